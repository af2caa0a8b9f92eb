/**
 * Cache keys: every key the service writes has its format here. Every component is
 * escaped, and the first `{…}` of a key is a Redis Cluster hash tag, so that keys read
 * together share one slot:
 *
 *     bucket      <prefix>:<cacheVersion>:{<tenant>}:<metric>:<metricVersion>:<scope>:<granularity>:<bucketStart>
 *                 dash:1:{acme}:REVENUE:1:r=EU:H:1795600800000
 *     metric      <prefix>:<cacheVersion>:{<tenant>}:<metric>:<metricVersion>:   (prefix of its buckets)
 *     validator   <prefix>:<cacheVersion>:{<tenant>}:~v:<metric>:<metricVersion>
 *                 dash:1:{acme}:~v:REVENUE:1   (replaced by every drop of the metric's buckets)
 *     lock        <first guarded key>:lock:<number of guarded keys>
 *                 dash:1:{acme}:REVENUE:1:r=EU:H:1795600800000:lock:24
 *     response    <prefix>:<cacheVersion>:{<tenant>}:resp:<hash>   (an in-process tier item and ETag, never stored)
 *     FX rate     <prefix>:<cacheVersion>:{fx=<base>}:rate   (one per base currency, not per tenant)
 *                 dash:1:{fx=USD}:rate, its lock dash:1:{fx=USD}:rate:lock:1
 *
 * - `scope` is `r=<region>` or `r=*` (all regions), then `,role=<role>` only for a
 *   metric whose value differs by role (roles that see the same value share entries).
 * - Escaping: every character outside `[A-Za-z0-9_.-]` becomes `%XX` per UTF-8 byte
 *   (a lone UTF-16 surrogate, which has no UTF-8 form, becomes `%uXXXX`),
 *   so an escaped component holds no `:`, `{`, `}`, `*`, `=`, `%`-ambiguity or space, and
 *   different inputs always give different keys (the encoding is injective and the
 *   separators cannot occur inside a component).
 * - The first `{…}` of a tenant's key is the tenant, so Redis Cluster hashes only it:
 *   a dashboard's buckets, their locks and its validators share a slot.
 *   An FX key's tag is `fx=<base>`: an escaped tenant never holds `=`, so no key of a
 *   tenant can equal or start with an FX key; a rate and its lock share a slot.
 * - A lock key extends the first key it guards, so it has that key's hash tag.
 * - A validator key starts with `~`, which no escaped component holds: it can equal
 *   no bucket key and lies under no metric prefix (dropping a metric's buckets by
 *   prefix leaves it, so the drop can replace it).
 */
import { BUCKET_MS, type Granularity } from './buckets.js';

/** What a cached bucket is about. */
export interface KeyParts {
  /** Global prefix; no `{`, `}` or `:` (checked by `validatePrefix`). */
  prefix: string;
  /** Global CACHE_VERSION: bump to orphan every entry. */
  cacheVersion: string;
  tenant: string;
  metric: string;
  /** The metric's logic version: bump to orphan its entries. */
  metricVersion: number;
  /** Region scope; undefined means every region. */
  region?: string | undefined;
  /** Set only for metrics whose value differs by role. */
  role?: string | undefined;
  granularity: Granularity;
  bucketStart: number;
}

const SAFE = /^[A-Za-z0-9_.-]$/;
const ALL_SAFE = /^[A-Za-z0-9_.-]+$/;
const GRANULARITY_CODE: Readonly<Record<Granularity, string>> = { HOUR: 'H', DAY: 'D' };

/** Escapes one key component (see the module comment). */
export function escapeComponent(value: string): string {
  // Almost every component (metric names, regions, versions, hashes) needs no escaping.
  if (ALL_SAFE.test(value)) return value;
  let out = '';
  for (const char of value) {
    const code = char.codePointAt(0)!;
    if (SAFE.test(char)) out += char;
    // A lone surrogate has no UTF-8 form (it would become U+FFFD and collide with the
    // real U+FFFD): it gets `%u` and its code unit, which byte escapes never produce.
    else if (code >= 0xd800 && code <= 0xdfff) out += `%u${code.toString(16).toUpperCase()}`;
    else for (const byte of Buffer.from(char, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  // An empty component would make `a::b` ambiguous with nothing; mark it.
  return out === '' ? '%' : out;
}

/** Throws when a prefix could break the format or the hash tag. */
export function validatePrefix(prefix: string): string {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(prefix)) {
    throw new RangeError(`cache key prefix must be 1 to 64 of [A-Za-z0-9_.-], got "${prefix}"`);
  }
  return prefix;
}

/** The part of every key of one tenant up to the metric: `<prefix>:<version>:{<tenant>}:`. */
export function tenantPrefix(parts: Pick<KeyParts, 'prefix' | 'cacheVersion' | 'tenant'>): string {
  return `${parts.prefix}:${escapeComponent(parts.cacheVersion)}:{${escapeComponent(parts.tenant)}}:`;
}

/** The part of every key of one metric version of a tenant, up to the scope: a prefix of each of its buckets' keys. */
export function metricPrefix(parts: Pick<KeyParts, 'prefix' | 'cacheVersion' | 'tenant' | 'metric' | 'metricVersion'>): string {
  return `${tenantPrefix(parts)}${escapeComponent(parts.metric)}:${parts.metricVersion}:`;
}

/**
 * The key of a metric's validator for a tenant: a value that every drop of any of the
 * metric's buckets replaces (in the same script as the drop). An in-process copy of a
 * bucket is served only while the validator is what it was when the copy was read.
 */
export function validatorKey(parts: Pick<KeyParts, 'prefix' | 'cacheVersion' | 'tenant' | 'metric' | 'metricVersion'>): string {
  return `${tenantPrefix(parts)}~v:${escapeComponent(parts.metric)}:${parts.metricVersion}`;
}

/** The scope component: region, then role when the metric depends on it. */
export function scopeComponent(region: string | undefined, role: string | undefined): string {
  const r = region === undefined ? 'r=*' : `r=${escapeComponent(region)}`;
  return role === undefined ? r : `${r},role=${escapeComponent(role)}`;
}

/** The key of one bucket. */
export function buildKey(parts: KeyParts): string {
  return bucketKeyOf(parts)(parts.bucketStart);
}

/**
 * The keys of one family of buckets (every part but the start): its components escaped
 * once, each key the family's head and the bucket's start. What a read of 168 hourly
 * buckets uses instead of escaping every component 168 times.
 */
export function bucketKeyOf(parts: Omit<KeyParts, 'bucketStart'>): (bucketStart: number) => string {
  const head = `${metricPrefix(parts)}${scopeComponent(parts.region, parts.role)}:${GRANULARITY_CODE[parts.granularity]}:`;
  const size = BUCKET_MS[parts.granularity];
  const granularity = parts.granularity;
  return (bucketStart) => {
    if (bucketStart % size !== 0) throw new RangeError(`bucketStart ${bucketStart} is not aligned to ${granularity}`);
    return `${head}${bucketStart}`;
  };
}

/**
 * The key of the lock guarding the computation of `keyCount` keys starting with
 * `firstKey` (a span of buckets, an FX rate); same slot as the keys it guards.
 */
export function lockKey(firstKey: string, keyCount: number): string {
  return `${firstKey}:lock:${keyCount}`;
}

/** Where a tenant's keys live: the global prefix and cache version. */
export type KeySpace = Pick<KeyParts, 'prefix' | 'cacheVersion'>;

/** What a stored whole response is about. */
export interface ResponseKeyParts extends KeySpace {
  tenant: string;
  /** The digest of the session, document, variables and operation name. */
  hash: string;
}

/** The key of one stored whole response. */
export function responseKey(parts: ResponseKeyParts): string {
  return `${tenantPrefix(parts)}resp:${escapeComponent(parts.hash)}`;
}

/**
 * The parts of a response key of `space`, or undefined for any other string. Keys also
 * come from clients (If-None-Match headers): only a key exactly as `responseKey` builds
 * it is taken, never a bucket key, another space's key or a non-canonical escaping.
 */
export function parseResponseKey(key: string, space: KeySpace): ResponseKeyParts | undefined {
  const head = `${space.prefix}:${escapeComponent(space.cacheVersion)}:{`;
  if (!key.startsWith(head)) return undefined;
  // Escaped components hold neither `:` nor `}`: `<tenant>}`, `resp`, `<hash>`.
  const rest = key.slice(head.length).split(':');
  if (rest.length !== 3 || rest[1] !== 'resp' || !rest[0]!.endsWith('}')) return undefined;
  const tenant = unescapeComponent(rest[0]!.slice(0, -1));
  const hash = unescapeComponent(rest[2]!);
  if (tenant === undefined || hash === undefined) return undefined;
  return { ...space, tenant, hash };
}

/** The input `escapeComponent` turns into `component`, or undefined when it produces no such output. */
function unescapeComponent(component: string): string | undefined {
  if (component === '%') return '';
  if (!/^(?:[A-Za-z0-9_.-]|%[0-9A-F]{2}|%u[0-9A-F]{4})+$/.test(component)) return undefined;
  let value: string;
  try {
    value = component
      .split(/(%u[0-9A-F]{4})/)
      .map((piece) => (piece.startsWith('%u') ? String.fromCharCode(parseInt(piece.slice(2), 16)) : decodeURIComponent(piece)))
      .join('');
  } catch {
    return undefined; // bytes that are not UTF-8
  }
  // Only the canonical form: `%41` for `A`, or `%uD800` for a pair, is not what we write.
  return escapeComponent(value) === component ? value : undefined;
}

/** What an FX rate is about: a base currency, whatever the tenant. */
export interface FxKeyParts extends KeySpace {
  /** ISO 4217 code of the base currency. */
  base: string;
}

/** The key of the stored vendor rates of one base currency. */
export function fxRateKey(parts: FxKeyParts): string {
  return `${parts.prefix}:${escapeComponent(parts.cacheVersion)}:{fx=${escapeComponent(parts.base)}}:rate`;
}

/** The key of the lock held while one worker asks the vendor for a base currency's rates. */
export function fxLockKey(parts: FxKeyParts): string {
  return lockKey(fxRateKey(parts), 1);
}
