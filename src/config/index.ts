/**
 * The one typed configuration of the process. Every setting is read from the
 * environment here, once, validated, and frozen; nothing else reads `process.env`.
 */
import { userInfo } from 'node:os';

/** Raised for a setting that cannot be used; the message names the variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    /** The environment variable at fault. */
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

/** Where the source rows live. */
export type DatabaseConfig = { kind: 'sqlite'; /** File path, or `:memory:`. */ path: string } | { kind: 'postgres'; url: string };

/** Where cached entries live. */
export type StoreConfig =
  { kind: 'memory' } | { kind: 'redis'; url: string } | { kind: 'cluster'; nodes: ReadonlyArray<{ host: string; port: number }> };

/** Limits refused before execution (CONTRACT.md, "Query limits"). */
export interface QueryLimits {
  /** Deepest selection nesting. @default 10 */
  maxDepth: number;
  /** Aliases per operation. @default 15 */
  maxAliases: number;
  /** Lexical tokens per document. @default 2000 */
  maxTokens: number;
  /** Largest request body, in bytes. @default 102400 */
  maxBodyBytes: number;
  /**
   * Cost per request: cached values it may read, summed over every `dashboard` field as
   * its buckets × the metric fields selected in it (MAX_COST_BUCKETS). @default 20000
   */
  maxCostBuckets: number;
}

/** How the cache names, bounds and protects its entries. */
export interface CacheSettings {
  /** Global version in every key; bump to orphan every entry. @default '1' */
  version: string;
  /** First component of every key. @default 'dash' */
  keyPrefix: string;
  /** A Redis command not answered by then fails and the source answers. @default 500 */
  commandTimeoutMs: number;
  /** Store failures in a row that open the circuit breaker. @default 3 */
  breakerThreshold: number;
  /** How long the breaker stays open before one trial. @default 5000 */
  breakerCooldownMs: number;
  /** Longest a recompute lock lives. @default 10000 */
  lockTtlMs: number;
  /** Longest a lookup waits for another worker's recompute. @default 3000 */
  lockWaitMs: number;
  /** In-process store bound, entries. @default 100000 */
  memoryMaxEntries: number;
  /** In-process store bound, bytes. @default 268435456 */
  memoryMaxBytes: number;
  /** The in-process tier of decoded buckets in front of the store, bytes; 0 turns it off. @default 67108864 */
  localMaxBytes: number;
  /**
   * How long past its stale window a cached bucket is still served when the source
   * database fails to recompute it (stale-if-error, RFC 5861); 0 turns it off. At most
   * 7 days, since entries live that much longer in the store. @default 86400000 (a day)
   */
  staleIfErrorMs: number;
  /**
   * The bounded-staleness mode: a validator read is taken again for this long without
   * asking the store, so a warm request sends no store command; a write shows on other
   * instances at once while pub/sub delivers its notice, and at the latest this long
   * after it returned. 0: every request reads its validators (read your writes across
   * instances). At most 60000. @default 0
   */
  stalenessBoundMs: number;
}

/** Every setting, parsed and validated once at start-up (loadConfig), deep-frozen. */
export interface Config {
  /** `production` turns off GraphiQL's token prefill and requires JWT_SECRET. */
  env: 'development' | 'production' | 'test';
  /** HTTP port. @default 4000 */
  port: number;
  /** HTTP host to bind. @default '0.0.0.0' */
  host: string;
  database: DatabaseConfig;
  /**
   * PostgreSQL: longest a statement of the server may run before it fails (the server
   * cancels it; a server that answers nothing is given a second more, then its connection
   * is destroyed). No effect on SQLite. @default 5000
   */
  databaseQueryTimeoutMs: number;
  store: StoreConfig;
  auth: {
    /** HS256 secret bytes. */
    jwtSecret: Uint8Array;
    /** True when the fixed development secret is in use. */
    usingDevSecret: boolean;
  };
  fx: {
    /** Frankfurter-compatible vendor base URL; unset uses the built-in static table. */
    apiUrl: string | undefined;
    /** How long a fetched rate is fresh. @default 600000 */
    ttlMs: number;
    /** How long to wait for the vendor. @default 2000 */
    timeoutMs: number;
  };
  limits: QueryLimits;
  cache: CacheSettings;
  /**
   * Longest a whole response is kept for identical repeated queries (it is served only
   * while its validators hold and its buckets stay fresh); 0 turns the layer off.
   * @default 30000
   */
  responseCacheTtlMs: number;
  events: {
    /** Pending stream entries idle this long are claimed from a crashed instance. @default 30000 */
    claimIdleMs: number;
    /** How long notices of one tenant gather before subscribers hear them. @default 250 */
    coalesceMs: number;
  };
  /**
   * OpenTelemetry tracing, off unless the standard OTEL_* variables ask for it:
   * OTEL_TRACES_EXPORTER=otlp|console, or an OTLP endpoint; OTEL_SDK_DISABLED=true or
   * OTEL_TRACES_EXPORTER=none turn it off.
   */
  tracing: {
    enabled: boolean;
    exporter: 'otlp' | 'console';
    /** OTEL_SERVICE_NAME. @default 'dashboard-api' */
    serviceName: string;
    /** Traces endpoint: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces. */
    endpoint: string | undefined;
    /** OTEL_EXPORTER_OTLP_HEADERS / OTEL_EXPORTER_OTLP_TRACES_HEADERS, parsed. */
    headers: Readonly<Record<string, string>>;
  };
  /**
   * Longest a stop (SIGTERM, SIGINT) takes, from the signal to the exit: in-flight requests
   * have all of it but the last `SHUTDOWN_CLOSE_RESERVE_MS` to finish, the rest closes the
   * connections; whatever is still open then is cut and the process exits 1.
   * @default 10000
   */
  shutdownTimeoutMs: number;
  /** Lowest log level written. @default 'info' */
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /**
   * In production, whether responses to ADMIN and ANALYST callers carry `extensions.cache`
   * (buckets hit, missed and served stale per metric), which the live page at `/` shows.
   * Never to a VIEWER. Outside production every response carries it, whatever this says.
   * @default false
   */
  pageCacheDetails: boolean;
}

/**
 * The secret used outside production when JWT_SECRET is unset. Public on purpose:
 * anything signed with it is worthless, which is why production refuses it.
 */
export const DEV_JWT_SECRET = 'dashboard-api-development-secret-not-for-production';

/** Defaults of every optional setting, in one place. */
export const DEFAULTS = Object.freeze({
  /** @default 4000 */
  port: 4000,
  /** @default '0.0.0.0' */
  host: '0.0.0.0',
  /** @default 'data/dashboard.sqlite' */
  sqlitePath: 'data/dashboard.sqlite',
  /** @default 5000 */
  databaseQueryTimeoutMs: 5_000,
  /** @default 600000 (10 minutes) */
  fxTtlMs: 600_000,
  /** @default 2000 */
  fxTimeoutMs: 2_000,
  limits: Object.freeze({
    maxDepth: 10,
    maxAliases: 15,
    maxTokens: 2_000,
    maxBodyBytes: 100 * 1024,
    maxCostBuckets: 20_000,
  } satisfies QueryLimits),
  cache: Object.freeze({
    version: '1',
    keyPrefix: 'dash',
    commandTimeoutMs: 500,
    breakerThreshold: 3,
    breakerCooldownMs: 5_000,
    lockTtlMs: 10_000,
    lockWaitMs: 3_000,
    memoryMaxEntries: 100_000,
    memoryMaxBytes: 256 * 1024 * 1024,
    localMaxBytes: 64 * 1024 * 1024,
    staleIfErrorMs: 86_400_000,
    stalenessBoundMs: 0,
  } satisfies CacheSettings),
  events: Object.freeze({ claimIdleMs: 30_000, coalesceMs: 250 }),
  /** @default 10000 */
  shutdownTimeoutMs: 10_000,
  /** @default 'info' */
  logLevel: 'info' as const,
});

/**
 * The part of SHUTDOWN_TIMEOUT_MS kept, after in-flight requests, for what closes after
 * them: the stream consumer's last acknowledgements, lock releases, the store and the
 * database. SHUTDOWN_TIMEOUT_MS is at least twice this.
 */
export const SHUTDOWN_CLOSE_RESERVE_MS = 1_000;

type Env = Readonly<Record<string, string | undefined>>;

/** A byte bound of at least 1 MiB, or 0 for "off". */
function bytesOrOff(env: Env, name: string, fallback: number): number {
  if (env[name]?.trim() === '0') return 0;
  return integer(env, name, fallback, 1_048_576, 64 * 1024 ** 3);
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) {
    throw new ConfigError(name, `expected a whole number from ${min} to ${max}, got "${raw}"`);
  }
  const value = Number(raw);
  if (value < min || value > max) {
    throw new ConfigError(name, `expected a whole number from ${min} to ${max}, got ${value}`);
  }
  return value;
}

function parseTracing(env: Env): Config['tracing'] {
  const exporterRaw = env.OTEL_TRACES_EXPORTER?.split(',')[0]?.trim();
  if (exporterRaw !== undefined && exporterRaw !== '' && !['otlp', 'console', 'none'].includes(exporterRaw)) {
    throw new ConfigError('OTEL_TRACES_EXPORTER', `expected otlp, console or none, got "${exporterRaw}"`);
  }
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.replace(/\/+$/, '');
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || (base ? `${base}/v1/traces` : undefined);
  if (endpoint !== undefined && !/^https?:\/\/\S+$/.test(endpoint)) {
    throw new ConfigError(
      env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT',
      `expected an http(s) URL, got "${redact(endpoint)}"`,
    );
  }
  const headers: Record<string, string> = {};
  for (const pair of (env.OTEL_EXPORTER_OTLP_TRACES_HEADERS || env.OTEL_EXPORTER_OTLP_HEADERS || '').split(',')) {
    const at = pair.indexOf('=');
    if (at > 0) headers[decodeURIComponent(pair.slice(0, at).trim())] = decodeURIComponent(pair.slice(at + 1).trim());
  }
  const disabled = env.OTEL_SDK_DISABLED === 'true' || exporterRaw === 'none';
  const wanted = exporterRaw === 'otlp' || exporterRaw === 'console' || endpoint !== undefined;
  return {
    enabled: !disabled && wanted,
    exporter: exporterRaw === 'console' ? 'console' : 'otlp',
    serviceName: env.OTEL_SERVICE_NAME || 'dashboard-api',
    endpoint,
    headers,
  };
}

/** A key component: 1 to 64 of [A-Za-z0-9_.-]. */
function token(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(raw)) throw new ConfigError(name, `expected 1 to 64 of A-Z a-z 0-9 _ . -, got "${raw.slice(0, 80)}"`);
  return raw;
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(name, `expected true or false, got "${env[name]}"`);
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `expected one of ${allowed.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

/** What the configuration asks of the operating system; tests pass their own. */
export interface SystemInfo {
  /**
   * The name of the operating-system user running the process, as libpq finds it
   * (the password database, not `$USER`). Throws when the user has no name there.
   * @default os.userInfo().username
   */
  userName(): string;
}

const SYSTEM: SystemInfo = { userName: () => userInfo().username };

/**
 * The PostgreSQL URL with the user libpq would connect as written into it when the URL
 * names none: `PGUSER`, else the operating-system user (`psql` does the same). pg
 * itself falls back to `$USER`, which many containers leave unset ("no PostgreSQL user
 * name specified in startup packet"). The user goes in as the `user` query parameter,
 * which libpq's URIs and pg both read, so that a URL without a host keeps working.
 * The rest of what the URL leaves out (PGPASSWORD, PGHOST, PGPORT, PGDATABASE,
 * ~/.pgpass; the database defaulting to the user) pg reads as libpq does.
 */
function withLibpqUser(raw: string, url: URL, env: Env, system: SystemInfo): string {
  if (url.username !== '' || url.searchParams.get('user')) return raw;
  let user = env.PGUSER;
  if (!user) {
    try {
      user = system.userName();
    } catch (error) {
      throw new ConfigError(
        'DATABASE_URL',
        `"${redact(raw)}" names no user, PGUSER is unset, and the operating-system user has no name ` +
          `(${(error as Error).message}). Put the user in the URL (postgres://USER@host/db) or set PGUSER.`,
      );
    }
  }
  const hash = raw.indexOf('#');
  const [base, fragment] = hash >= 0 ? [raw.slice(0, hash), raw.slice(hash)] : [raw, ''];
  return `${base}${base.includes('?') ? '&' : '?'}user=${encodeURIComponent(user)}${fragment}`;
}

function parseDatabase(raw: string | undefined, env: Env, system: SystemInfo): DatabaseConfig {
  if (raw === undefined || raw === '') return { kind: 'sqlite', path: DEFAULTS.sqlitePath };
  if (raw.startsWith('sqlite:')) {
    const path = raw.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (path === '') throw new ConfigError('DATABASE_URL', 'sqlite: needs a file path, e.g. sqlite:data/dashboard.sqlite');
    return { kind: 'sqlite', path };
  }
  if (/^postgres(ql)?:\/\//.test(raw)) {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new ConfigError('DATABASE_URL', `"${redact(raw)}" is not a valid URL`);
    }
    return { kind: 'postgres', url: withLibpqUser(raw, url, env, system) };
  }
  throw new ConfigError('DATABASE_URL', `expected sqlite:PATH or postgres://…, got "${redact(raw)}"`);
}

function parseStore(env: Env): StoreConfig {
  const nodes = env.REDIS_CLUSTER_NODES;
  const url = env.REDIS_URL;
  if (nodes && url) {
    throw new ConfigError('REDIS_CLUSTER_NODES', 'set either REDIS_URL or REDIS_CLUSTER_NODES, not both');
  }
  if (nodes) {
    const parsed = nodes.split(',').map((part) => {
      const match = /^\s*([^:\s]+):(\d{1,5})\s*$/.exec(part);
      const port = match ? Number(match[2]) : NaN;
      if (!match || port < 1 || port > 65535) {
        throw new ConfigError('REDIS_CLUSTER_NODES', `expected host:port,host:port, got "${part}"`);
      }
      return { host: match[1]!, port };
    });
    return { kind: 'cluster', nodes: parsed };
  }
  if (url) {
    if (!/^rediss?:\/\//.test(url)) {
      throw new ConfigError('REDIS_URL', `expected redis://host:port or rediss://…, got "${redact(url)}"`);
    }
    return { kind: 'redis', url };
  }
  return { kind: 'memory' };
}

/** Hides a URL's password so that an error message never carries it. */
function redact(raw: string): string {
  // Everything between the scheme and the last '@' before the host is userinfo; a
  // password may hold '/' or ':' when it was not percent-encoded.
  return raw.replace(
    /^([a-z][a-z0-9+.-]*:\/\/)([^@]*)@/i,
    (_, scheme: string, userinfo: string) => `${scheme}${userinfo.split(':')[0]}:***@`,
  );
}

/**
 * Reads and validates the configuration.
 * @param env the environment, `process.env` in production; tests pass their own.
 * @param system what is read of the operating system (the user PostgreSQL defaults to). @default the real one
 * @throws ConfigError naming the first bad variable.
 */
export function loadConfig(env: Env = process.env, system: SystemInfo = SYSTEM): Config {
  const nodeEnv = oneOf(env, 'NODE_ENV', ['development', 'production', 'test'] as const, 'development');
  const secret = env.JWT_SECRET;
  if (nodeEnv === 'production' && (secret === undefined || secret === '')) {
    throw new ConfigError('JWT_SECRET', 'is required when NODE_ENV=production: set it to a random string of 32 bytes or more');
  }
  if (nodeEnv === 'production' && secret === DEV_JWT_SECRET) {
    throw new ConfigError('JWT_SECRET', 'is the public development secret; set a random string of 32 bytes or more in production');
  }
  if (secret !== undefined && secret !== '' && secret.length < 32) {
    throw new ConfigError('JWT_SECRET', `must be at least 32 characters for HS256, got ${secret.length}`);
  }
  const fxUrl = env.FX_API_URL === '' ? undefined : env.FX_API_URL;
  if (fxUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(fxUrl)) {
    throw new ConfigError('FX_API_URL', `expected an http(s) URL, got "${redact(fxUrl)}"`);
  }
  const host = env.HOST === undefined || env.HOST === '' ? DEFAULTS.host : env.HOST;
  const config: Config = {
    env: nodeEnv,
    port: integer(env, 'PORT', DEFAULTS.port, 0, 65535),
    host,
    database: parseDatabase(env.DATABASE_URL, env, system),
    databaseQueryTimeoutMs: integer(env, 'DATABASE_QUERY_TIMEOUT_MS', DEFAULTS.databaseQueryTimeoutMs, 100, 600_000),
    store: parseStore(env),
    auth: {
      jwtSecret: new TextEncoder().encode(secret || DEV_JWT_SECRET),
      usingDevSecret: !secret,
    },
    fx: {
      apiUrl: fxUrl?.replace(/\/+$/, ''),
      ttlMs: integer(env, 'FX_TTL_MS', DEFAULTS.fxTtlMs, 1_000, 7 * 24 * 3_600_000),
      timeoutMs: integer(env, 'FX_TIMEOUT_MS', DEFAULTS.fxTimeoutMs, 50, 60_000),
    },
    limits: {
      maxDepth: integer(env, 'MAX_QUERY_DEPTH', DEFAULTS.limits.maxDepth, 1, 100),
      maxAliases: integer(env, 'MAX_QUERY_ALIASES', DEFAULTS.limits.maxAliases, 0, 1_000),
      maxTokens: integer(env, 'MAX_QUERY_TOKENS', DEFAULTS.limits.maxTokens, 10, 100_000),
      maxBodyBytes: integer(env, 'MAX_BODY_BYTES', DEFAULTS.limits.maxBodyBytes, 1_024, 10 * 1024 * 1024),
      maxCostBuckets: integer(env, 'MAX_COST_BUCKETS', DEFAULTS.limits.maxCostBuckets, 1, 10_000_000),
    },
    cache: {
      version: token(env, 'CACHE_VERSION', DEFAULTS.cache.version),
      keyPrefix: token(env, 'CACHE_KEY_PREFIX', DEFAULTS.cache.keyPrefix),
      commandTimeoutMs: integer(env, 'REDIS_COMMAND_TIMEOUT_MS', DEFAULTS.cache.commandTimeoutMs, 10, 60_000),
      breakerThreshold: integer(env, 'CACHE_BREAKER_THRESHOLD', DEFAULTS.cache.breakerThreshold, 1, 1_000),
      breakerCooldownMs: integer(env, 'CACHE_BREAKER_COOLDOWN_MS', DEFAULTS.cache.breakerCooldownMs, 10, 600_000),
      lockTtlMs: integer(env, 'CACHE_LOCK_TTL_MS', DEFAULTS.cache.lockTtlMs, 100, 600_000),
      lockWaitMs: integer(env, 'CACHE_LOCK_WAIT_MS', DEFAULTS.cache.lockWaitMs, 0, 600_000),
      memoryMaxEntries: integer(env, 'CACHE_MEMORY_MAX_ENTRIES', DEFAULTS.cache.memoryMaxEntries, 100, 100_000_000),
      memoryMaxBytes: integer(env, 'CACHE_MEMORY_MAX_BYTES', DEFAULTS.cache.memoryMaxBytes, 1_048_576, 64 * 1024 ** 3),
      localMaxBytes: bytesOrOff(env, 'CACHE_LOCAL_MAX_BYTES', DEFAULTS.cache.localMaxBytes),
      staleIfErrorMs: integer(env, 'CACHE_STALE_IF_ERROR_MS', DEFAULTS.cache.staleIfErrorMs, 0, 7 * 86_400_000),
      stalenessBoundMs: integer(env, 'CACHE_STALENESS_BOUND_MS', DEFAULTS.cache.stalenessBoundMs, 0, 60_000),
    },
    responseCacheTtlMs: integer(env, 'RESPONSE_CACHE_TTL_MS', 30_000, 0, 3_600_000),
    events: {
      claimIdleMs: integer(env, 'EVENTS_CLAIM_IDLE_MS', DEFAULTS.events.claimIdleMs, 100, 3_600_000),
      coalesceMs: integer(env, 'SUBSCRIPTION_COALESCE_MS', DEFAULTS.events.coalesceMs, 0, 10_000),
    },
    tracing: parseTracing(env),
    shutdownTimeoutMs: integer(env, 'SHUTDOWN_TIMEOUT_MS', DEFAULTS.shutdownTimeoutMs, 2 * SHUTDOWN_CLOSE_RESERVE_MS, 600_000),
    logLevel: oneOf(env, 'LOG_LEVEL', ['debug', 'info', 'warn', 'error', 'silent'] as const, DEFAULTS.logLevel),
    pageCacheDetails: flag(env, 'PAGE_CACHE_DETAILS', false),
  };
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value) && !(value instanceof Uint8Array)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
