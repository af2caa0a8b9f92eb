import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULTS, DEV_JWT_SECRET, loadConfig } from '../../src/config/index.js';

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256';

/** Runs loadConfig, expects a ConfigError for `variable`, and returns it. */
function refused(env: Record<string, string | undefined>, variable: string): ConfigError {
  let caught: unknown;
  try {
    loadConfig(env);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  const error = caught as ConfigError;
  expect(error.variable).toBe(variable);
  expect(error.message.startsWith(`${variable}: `)).toBe(true);
  return error;
}

describe('loadConfig defaults', () => {
  it('gives every default for an empty environment', () => {
    const config = loadConfig({});
    expect(config.env).toBe('development');
    expect(config.port).toBe(4000);
    expect(config.host).toBe('0.0.0.0');
    expect(config.database).toEqual({ kind: 'sqlite', path: 'data/dashboard.sqlite' });
    expect(config.store).toEqual({ kind: 'memory' });
    expect(config.fx).toEqual({ apiUrl: undefined, ttlMs: 600_000, timeoutMs: 2_000 });
    expect(config.limits).toEqual({ maxDepth: 10, maxAliases: 15, maxTokens: 2_000, maxBodyBytes: 102_400, maxCostBuckets: 20_000 });
    expect(config.logLevel).toBe('info');
    expect(config.pageCacheDetails).toBe(false);
  });

  it('matches the DEFAULTS constant', () => {
    const config = loadConfig({});
    expect(config.port).toBe(DEFAULTS.port);
    expect(config.limits).toEqual(DEFAULTS.limits);
    expect(config.fx.ttlMs).toBe(DEFAULTS.fxTtlMs);
  });

  it('treats empty strings as unset', () => {
    const config = loadConfig({
      PORT: '',
      HOST: '',
      NODE_ENV: '',
      LOG_LEVEL: '',
      DATABASE_URL: '',
      REDIS_URL: '',
      FX_API_URL: '',
      JWT_SECRET: '',
    });
    expect(config.port).toBe(4000);
    expect(config.host).toBe('0.0.0.0');
    expect(config.env).toBe('development');
    expect(config.database.kind).toBe('sqlite');
    expect(config.store.kind).toBe('memory');
    expect(config.fx.apiUrl).toBeUndefined();
    expect(config.auth.usingDevSecret).toBe(true);
  });

  it('uses the development secret when JWT_SECRET is unset outside production', () => {
    for (const NODE_ENV of ['development', 'test', undefined]) {
      const config = loadConfig({ NODE_ENV });
      expect(config.auth.usingDevSecret).toBe(true);
      expect(new TextDecoder().decode(config.auth.jwtSecret)).toBe(DEV_JWT_SECRET);
    }
  });

  it('reads explicit values', () => {
    const config = loadConfig({
      NODE_ENV: 'test',
      PORT: '8080',
      HOST: '127.0.0.1',
      JWT_SECRET: SECRET,
      FX_API_URL: 'https://fx.example.com/api//',
      FX_TTL_MS: '1000',
      FX_TIMEOUT_MS: '60000',
      MAX_QUERY_DEPTH: '5',
      MAX_QUERY_ALIASES: '0',
      MAX_QUERY_TOKENS: '500',
      MAX_BODY_BYTES: '2048',
      MAX_COST_BUCKETS: '100',
      LOG_LEVEL: 'silent',
    });
    expect(config.env).toBe('test');
    expect(config.port).toBe(8080);
    expect(config.host).toBe('127.0.0.1');
    expect(config.auth.usingDevSecret).toBe(false);
    expect(new TextDecoder().decode(config.auth.jwtSecret)).toBe(SECRET);
    expect(config.fx).toEqual({ apiUrl: 'https://fx.example.com/api', ttlMs: 1000, timeoutMs: 60_000 });
    expect(config.limits).toEqual({ maxDepth: 5, maxAliases: 0, maxTokens: 500, maxBodyBytes: 2048, maxCostBuckets: 100 });
    expect(config.logLevel).toBe('silent');
  });

  it('CACHE_STALE_IF_ERROR_MS: a day by default, 0 turns it off, at most 7 days', () => {
    expect(loadConfig({}).cache.staleIfErrorMs).toBe(86_400_000);
    expect(DEFAULTS.cache.staleIfErrorMs).toBe(86_400_000);
    expect(loadConfig({ CACHE_STALE_IF_ERROR_MS: '0' }).cache.staleIfErrorMs).toBe(0);
    expect(loadConfig({ CACHE_STALE_IF_ERROR_MS: '604800000' }).cache.staleIfErrorMs).toBe(604_800_000);
  });

  it('CACHE_STALENESS_BOUND_MS: off (0) by default, at most a minute', () => {
    expect(loadConfig({}).cache.stalenessBoundMs).toBe(0);
    expect(DEFAULTS.cache.stalenessBoundMs).toBe(0);
    expect(loadConfig({ CACHE_STALENESS_BOUND_MS: '2000' }).cache.stalenessBoundMs).toBe(2_000);
    expect(loadConfig({ CACHE_STALENESS_BOUND_MS: '60000' }).cache.stalenessBoundMs).toBe(60_000);
  });

  it('DATABASE_QUERY_TIMEOUT_MS: 5 s unless set', () => {
    expect(loadConfig({}).databaseQueryTimeoutMs).toBe(5_000);
    expect(DEFAULTS.databaseQueryTimeoutMs).toBe(5_000);
    expect(loadConfig({ DATABASE_QUERY_TIMEOUT_MS: '1500' }).databaseQueryTimeoutMs).toBe(1_500);
  });

  it('SHUTDOWN_TIMEOUT_MS: 10 s unless set', () => {
    expect(loadConfig({}).shutdownTimeoutMs).toBe(10_000);
    expect(loadConfig({ SHUTDOWN_TIMEOUT_MS: '25000' }).shutdownTimeoutMs).toBe(25_000);
  });

  it('accepts whole numbers surrounded by spaces', () => {
    expect(loadConfig({ PORT: ' 81 ' }).port).toBe(81);
  });
});

describe('loadConfig refusals name the variable', () => {
  it.each([
    ['PORT', 'abc'],
    ['PORT', '-1'],
    ['PORT', '65536'],
    ['PORT', '80.5'],
    ['PORT', '1e3'],
    ['FX_TTL_MS', '999'],
    ['FX_TIMEOUT_MS', '49'],
    ['FX_TIMEOUT_MS', '60001'],
    ['MAX_QUERY_DEPTH', '0'],
    ['MAX_QUERY_DEPTH', '101'],
    ['MAX_QUERY_ALIASES', '1001'],
    ['MAX_QUERY_TOKENS', '9'],
    ['MAX_BODY_BYTES', '1023'],
    ['MAX_COST_BUCKETS', '0'],
    ['CACHE_STALE_IF_ERROR_MS', '-1'],
    ['CACHE_STALE_IF_ERROR_MS', '1h'],
    ['CACHE_STALE_IF_ERROR_MS', '604800001'],
    ['CACHE_STALENESS_BOUND_MS', '-1'],
    ['CACHE_STALENESS_BOUND_MS', '2s'],
    ['CACHE_STALENESS_BOUND_MS', '60001'],
    ['DATABASE_QUERY_TIMEOUT_MS', '99'],
    ['DATABASE_QUERY_TIMEOUT_MS', '5s'],
    ['DATABASE_QUERY_TIMEOUT_MS', '600001'],
    ['SHUTDOWN_TIMEOUT_MS', '1999'],
    ['SHUTDOWN_TIMEOUT_MS', '600001'],
  ])('%s=%s', (variable, value) => {
    const e = refused({ [variable]: value }, variable);
    expect(e.message).toContain('expected a whole number from');
    expect(e.message).toContain(value.trim());
  });

  it('NODE_ENV outside the allowed values', () => {
    const e = refused({ NODE_ENV: 'prod' }, 'NODE_ENV');
    expect(e.message).toContain('development, production, test');
    expect(e.message).toContain('"prod"');
  });

  it('LOG_LEVEL outside the allowed values', () => {
    const e = refused({ LOG_LEVEL: 'verbose' }, 'LOG_LEVEL');
    expect(e.message).toContain('debug, info, warn, error, silent');
  });

  it('PAGE_CACHE_DETAILS other than true, false, 1 or 0', () => {
    expect(loadConfig({ PAGE_CACHE_DETAILS: 'true' }).pageCacheDetails).toBe(true);
    expect(loadConfig({ PAGE_CACHE_DETAILS: '0' }).pageCacheDetails).toBe(false);
    const e = refused({ PAGE_CACHE_DETAILS: 'yes' }, 'PAGE_CACHE_DETAILS');
    expect(e.message).toContain('"yes"');
  });

  it('FX_API_URL that is not http(s)', () => {
    refused({ FX_API_URL: 'ftp://fx.example.com' }, 'FX_API_URL');
    refused({ FX_API_URL: 'https://fx example.com' }, 'FX_API_URL');
  });
});

describe('JWT_SECRET', () => {
  it('is required when NODE_ENV=production', () => {
    const e = refused({ NODE_ENV: 'production' }, 'JWT_SECRET');
    expect(e.message).toContain('NODE_ENV=production');
    refused({ NODE_ENV: 'production', JWT_SECRET: '' }, 'JWT_SECRET');
  });

  it('is accepted in production when long enough', () => {
    const config = loadConfig({ NODE_ENV: 'production', JWT_SECRET: SECRET });
    expect(config.env).toBe('production');
    expect(config.auth.usingDevSecret).toBe(false);
  });

  it('is refused when shorter than 32 characters, in any environment, without echoing it', () => {
    const short = 'x'.repeat(31);
    const e = refused({ JWT_SECRET: short }, 'JWT_SECRET');
    expect(e.message).toContain('at least 32 characters');
    expect(e.message).toContain('got 31');
    expect(e.message).not.toContain(short);
    refused({ NODE_ENV: 'production', JWT_SECRET: 'short' }, 'JWT_SECRET');
    expect(loadConfig({ JWT_SECRET: 'y'.repeat(32) }).auth.usingDevSecret).toBe(false);
  });

  // DEV_JWT_SECRET's JSDoc: "anything signed with it is worthless, which is why production refuses it".
  it('refuses the public development secret in production', () => {
    refused({ NODE_ENV: 'production', JWT_SECRET: DEV_JWT_SECRET }, 'JWT_SECRET');
  });
});

describe('cache store', () => {
  it('REDIS_URL redis:// and rediss://', () => {
    expect(loadConfig({ REDIS_URL: 'redis://localhost:6379' }).store).toEqual({ kind: 'redis', url: 'redis://localhost:6379' });
    expect(loadConfig({ REDIS_URL: 'rediss://cache.example:6380/0' }).store).toEqual({
      kind: 'redis',
      url: 'rediss://cache.example:6380/0',
    });
  });

  it('REDIS_URL with another scheme is refused without its password', () => {
    const e = refused({ REDIS_URL: 'http://user:hunter2secret@cache.example:6379' }, 'REDIS_URL');
    expect(e.message).not.toContain('hunter2secret');
    expect(e.message).toContain('//user:***@cache.example');
  });

  it('REDIS_CLUSTER_NODES as host:port list', () => {
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'a:7000, b.example:7001 ,10.0.0.3:65535' }).store).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'a', port: 7000 },
        { host: 'b.example', port: 7001 },
        { host: '10.0.0.3', port: 65535 },
      ],
    });
  });

  it.each(['a', 'a:', ':7000', 'a:0', 'a:65536', 'a:123456', 'a:7000,,b:7001', 'a:x'])('REDIS_CLUSTER_NODES=%s is refused', (nodes) => {
    const e = refused({ REDIS_CLUSTER_NODES: nodes }, 'REDIS_CLUSTER_NODES');
    expect(e.message).toContain('host:port');
  });

  it('REDIS_URL and REDIS_CLUSTER_NODES together are refused', () => {
    const e = refused({ REDIS_URL: 'redis://a:6379', REDIS_CLUSTER_NODES: 'a:7000' }, 'REDIS_CLUSTER_NODES');
    expect(e.message).toContain('not both');
  });
});

describe('source database', () => {
  it('sqlite:PATH, sqlite:///absolute and sqlite::memory:', () => {
    expect(loadConfig({ DATABASE_URL: 'sqlite:data/x.sqlite' }).database).toEqual({ kind: 'sqlite', path: 'data/x.sqlite' });
    expect(loadConfig({ DATABASE_URL: 'sqlite:///var/db/x.sqlite' }).database).toEqual({ kind: 'sqlite', path: '/var/db/x.sqlite' });
    expect(loadConfig({ DATABASE_URL: 'sqlite::memory:' }).database).toEqual({ kind: 'sqlite', path: ':memory:' });
  });

  it('sqlite: without a path is refused', () => {
    const e = refused({ DATABASE_URL: 'sqlite:' }, 'DATABASE_URL');
    expect(e.message).toContain('needs a file path');
  });

  it('postgres:// and postgresql:// are kept as URLs', () => {
    const url = 'postgres://app:pw@db.example:5432/dashboard?sslmode=require';
    expect(loadConfig({ DATABASE_URL: url }).database).toEqual({ kind: 'postgres', url });
    expect(loadConfig({ DATABASE_URL: 'postgresql://app@db/dash' }).database).toEqual({
      kind: 'postgres',
      url: 'postgresql://app@db/dash',
    });
    expect(loadConfig({ DATABASE_URL: 'postgres://db/dash?user=app' }).database).toEqual({
      kind: 'postgres',
      url: 'postgres://db/dash?user=app',
    });
  });

  describe('a URL without a user: libpq rules, as psql', () => {
    const system = (name: string) => ({ userName: () => name });
    const urlOf = (env: Record<string, string>, name = 'alice') => {
      const database = loadConfig(env, system(name)).database;
      expect(database.kind).toBe('postgres');
      return (database as { url: string }).url;
    };

    it('connects as PGUSER when it is set', () => {
      expect(urlOf({ DATABASE_URL: 'postgres://127.0.0.1:5432/db', PGUSER: 'bob' })).toBe('postgres://127.0.0.1:5432/db?user=bob');
    });

    it('else as the operating-system user, whatever USER says (libpq reads the password database, not $USER)', () => {
      expect(urlOf({ DATABASE_URL: 'postgres://127.0.0.1:5432/db' })).toBe('postgres://127.0.0.1:5432/db?user=alice');
      expect(urlOf({ DATABASE_URL: 'postgres://127.0.0.1:5432/db', USER: 'someone-else' })).toBe('postgres://127.0.0.1:5432/db?user=alice');
    });

    it('keeps the query and fragment, and escapes the name', () => {
      expect(urlOf({ DATABASE_URL: 'postgres://h/db?options=-c%20search_path%3Ds#x' }, 'a b&c')).toBe(
        'postgres://h/db?options=-c%20search_path%3Ds&user=a%20b%26c#x',
      );
      expect(urlOf({ DATABASE_URL: 'postgres:///db' })).toBe('postgres:///db?user=alice');
    });

    it('stops start-up, naming DATABASE_URL, when the operating-system user has no name either', () => {
      let caught: unknown;
      try {
        loadConfig(
          { DATABASE_URL: 'postgres://127.0.0.1/db' },
          {
            userName: () => {
              throw new Error('ENOENT: no such file or directory, uv_os_get_passwd');
            },
          },
        );
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ConfigError);
      expect((caught as ConfigError).variable).toBe('DATABASE_URL');
      expect((caught as ConfigError).message).toMatch(/names no user, PGUSER is unset.*set PGUSER/);
    });
  });

  it('an unparseable postgres URL is refused without its password', () => {
    const e = refused({ DATABASE_URL: 'postgres://app:s3cretPassw0rd@db.example:99999/dashboard' }, 'DATABASE_URL');
    expect(e.message).toContain('not a valid URL');
    expect(e.message).not.toContain('s3cretPassw0rd');
    expect(e.message).toContain('//app:***@db.example');
  });

  it('another scheme is refused without its password', () => {
    const e = refused({ DATABASE_URL: 'mysql://root:t0psecret@db:3306/x' }, 'DATABASE_URL');
    expect(e.message).toContain('expected sqlite:PATH or postgres://');
    expect(e.message).not.toContain('t0psecret');
  });
});

describe('the result', () => {
  it('is deep-frozen', () => {
    const config = loadConfig({ REDIS_CLUSTER_NODES: 'a:7000,b:7001' });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.database)).toBe(true);
    expect(Object.isFrozen(config.store)).toBe(true);
    expect(Object.isFrozen(config.auth)).toBe(true);
    expect(Object.isFrozen(config.fx)).toBe(true);
    expect(Object.isFrozen(config.limits)).toBe(true);
    if (config.store.kind !== 'cluster') throw new Error('expected a cluster store');
    expect(Object.isFrozen(config.store.nodes)).toBe(true);
    expect(Object.isFrozen(config.store.nodes[0])).toBe(true);
  });

  it('throws on assignment in strict mode', () => {
    const config = loadConfig({});
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(() => {
      (config.limits as { maxDepth: number }).maxDepth = 1;
    }).toThrow(TypeError);
    expect(config.port).toBe(4000);
  });

  it('does not share state between calls', () => {
    expect(loadConfig({ PORT: '1' }).port).toBe(1);
    expect(loadConfig({}).port).toBe(4000);
  });
});
