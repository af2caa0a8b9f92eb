import calculateSlot from 'cluster-key-slot';
import { describe, expect, it } from 'vitest';
import { BUCKET_MS } from '../../src/cache/buckets.js';
import {
  bucketKeyOf,
  buildKey,
  escapeComponent,
  fxLockKey,
  fxRateKey,
  lockKey,
  metricPrefix,
  parseResponseKey,
  responseKey,
  tenantPrefix,
  validatePrefix,
  validatorKey,
  type KeyParts,
} from '../../src/cache/keys.js';

const HOUR = BUCKET_MS.HOUR;
const DAY = BUCKET_MS.DAY;
/** 2026-11-25T07:00:00Z, the example of the module comment. */
const B = 1_795_600_800_000;

const base: KeyParts = {
  prefix: 'dash',
  cacheVersion: '1',
  tenant: 'acme',
  metric: 'REVENUE',
  metricVersion: 1,
  region: 'EU',
  granularity: 'HOUR',
  bucketStart: B,
};

/**
 * The Redis Cluster hash tag of a key: the content between the first `{` and the
 * first `}` after it, when that content is not empty; otherwise the whole key is hashed.
 */
function hashTag(key: string): string | null {
  const open = key.indexOf('{');
  if (open === -1) return null;
  const close = key.indexOf('}', open + 1);
  if (close === -1 || close === open + 1) return null;
  return key.slice(open + 1, close);
}

/** Undoes `escapeComponent` for well-formed input (`%` alone is the empty string). */
function unescapeComponent(component: string): string {
  return component === '%' ? '' : decodeURIComponent(component);
}

const KILOBYTE = 'k'.repeat(1024);
const KILOBYTE_UNSAFE = ':{}'.repeat(342).slice(0, 1024);
/** Inputs that tempt an escaping scheme into collisions. */
const TRICKY = [
  '',
  'a',
  'b',
  'a:b',
  'a:b:c',
  ':',
  '::',
  '%3A',
  '%3a',
  '%',
  '%%',
  '%25',
  '%253A',
  '{',
  '}',
  '{a}',
  '}{',
  'a}',
  '{}',
  '*',
  'r=*',
  'r=EU',
  'EU,role=ADMIN',
  ' ',
  'a b',
  'a%20b',
  '\0',
  '%00',
  'a\0b',
  'é',
  'e\u0301',
  '%C3%A9',
  'ü',
  '日本',
  '😀',
  'EU',
  'eu',
  'H',
  'D',
  '1795600800000',
  KILOBYTE,
  KILOBYTE + 'x',
  KILOBYTE_UNSAFE,
];

describe('buildKey format', () => {
  it('matches the documented example exactly', () => {
    expect(buildKey(base)).toBe('dash:1:{acme}:REVENUE:1:r=EU:H:1795600800000');
  });

  it('writes r=* for all regions and D for a day bucket', () => {
    const dayStart = Math.floor(B / DAY) * DAY;
    expect(buildKey({ ...base, region: undefined, granularity: 'DAY', bucketStart: dayStart })).toBe(
      `dash:1:{acme}:REVENUE:1:r=*:D:${dayStart}`,
    );
  });

  it('adds the role to the scope only when one is given', () => {
    expect(buildKey({ ...base, role: 'ADMIN' })).toBe('dash:1:{acme}:REVENUE:1:r=EU,role=ADMIN:H:1795600800000');
    expect(buildKey({ ...base, region: undefined, role: 'VIEWER' })).toBe('dash:1:{acme}:REVENUE:1:r=*,role=VIEWER:H:1795600800000');
    expect(buildKey({ ...base, role: undefined })).not.toContain('role');
    expect(buildKey(base)).not.toContain('role');
  });

  it('puts the metric version and the cache version where documented', () => {
    expect(buildKey({ ...base, cacheVersion: '7', metricVersion: 12 })).toBe('dash:7:{acme}:REVENUE:12:r=EU:H:1795600800000');
  });

  it('escapes every component, tenant included, so each key has exactly 8 colon-separated parts', () => {
    const key = buildKey({ ...base, tenant: 'a:b{c}', region: 'x y', role: 'r:1', cacheVersion: 'v:2', metric: 'M*' });
    expect(key).toBe('dash:v%3A2:{a%3Ab%7Bc%7D}:M%2A:1:r=x%20y,role=r%3A1:H:1795600800000');
    expect(key.split(':')).toHaveLength(8);
  });

  it('throws a RangeError for a bucketStart not aligned to its granularity', () => {
    expect(() => buildKey({ ...base, bucketStart: B + 1 })).toThrow(RangeError);
    expect(() => buildKey({ ...base, bucketStart: B + HOUR / 2 })).toThrow(/not aligned to HOUR/);
    // Aligned to an hour but not to a day.
    const dayStart = Math.floor(B / DAY) * DAY;
    expect(() => buildKey({ ...base, granularity: 'DAY', bucketStart: dayStart + HOUR })).toThrow(/not aligned to DAY/);
    expect(() => buildKey({ ...base, granularity: 'DAY', bucketStart: dayStart })).not.toThrow();
  });
});

describe('bucketKeyOf: a family of bucket keys, escaped once', () => {
  it('gives exactly the key buildKey gives, for every tricky tenant, region and role, at both granularities', () => {
    for (const tenant of TRICKY)
      for (const region of [undefined, ...TRICKY.slice(0, 8)])
        for (const role of [undefined, 'ANALYST', ':'])
          for (const granularity of ['HOUR', 'DAY'] as const) {
            const family: Omit<KeyParts, 'bucketStart'> = { ...base, tenant, region, role, granularity };
            const keyOf = bucketKeyOf(family);
            for (const bucketStart of [0, DAY, B - (B % DAY), B - (B % DAY) + 30 * DAY])
              expect(keyOf(bucketStart)).toBe(buildKey({ ...family, bucketStart }));
          }
  });

  it('throws a RangeError for a start not aligned to the family granularity', () => {
    const family: Omit<KeyParts, 'bucketStart'> = base;
    expect(() => bucketKeyOf({ ...family, granularity: 'DAY' })(B + HOUR)).toThrow(RangeError);
    expect(() => bucketKeyOf({ ...family, granularity: 'HOUR' })(B + 1)).toThrow(RangeError);
  });
});

describe('escapeComponent', () => {
  it('keeps [A-Za-z0-9_.-] and percent-encodes every other UTF-8 byte in upper-case hex', () => {
    expect(escapeComponent('Az09_.-')).toBe('Az09_.-');
    expect(escapeComponent(':')).toBe('%3A');
    expect(escapeComponent('%')).toBe('%25');
    expect(escapeComponent('{}*')).toBe('%7B%7D%2A');
    expect(escapeComponent(' \0')).toBe('%20%00');
    expect(escapeComponent('é')).toBe('%C3%A9');
    expect(escapeComponent('😀')).toBe('%F0%9F%98%80');
  });

  it('marks the empty string with a lone %, which no non-empty input produces', () => {
    expect(escapeComponent('')).toBe('%');
    for (const value of TRICKY.filter((v) => v !== '')) expect(escapeComponent(value)).not.toBe('%');
  });

  it('never leaves a separator or brace in its output', () => {
    for (const value of TRICKY) expect(escapeComponent(value)).toMatch(/^[A-Za-z0-9_.%-]+$/);
  });

  it('round-trips every well-formed input', () => {
    for (const value of TRICKY) expect(unescapeComponent(escapeComponent(value))).toBe(value);
  });
});

describe('buildKey injectivity', () => {
  const regions: Array<string | undefined> = [undefined, ...TRICKY];

  it('gives pairwise distinct keys over every tenant × region of the tricky list', () => {
    const seen = new Map<string, string>();
    for (const tenant of TRICKY) {
      for (const region of regions) {
        const key = buildKey({ ...base, tenant, region });
        const input = JSON.stringify([tenant, region ?? null]);
        expect(seen.get(key), `${input} collides with ${seen.get(key)}`).toBeUndefined();
        seen.set(key, input);
      }
    }
    expect(seen.size).toBe(TRICKY.length * regions.length);
  });

  it('tells apart the classic collision pairs', () => {
    const pairs: Array<[Partial<KeyParts>, Partial<KeyParts>]> = [
      [
        { tenant: 'a:b', region: undefined },
        { tenant: 'a', region: 'b' },
      ],
      [{ tenant: '%3A' }, { tenant: ':' }],
      [{ tenant: '' }, { tenant: '%' }],
      [{ region: '*' }, { region: undefined }],
      [{ region: 'EU,role=ADMIN' }, { region: 'EU', role: 'ADMIN' }],
      [{ region: '' }, { region: undefined }],
      [
        { tenant: 'a}', metric: 'X' },
        { tenant: 'a', metric: '}X' },
      ],
      [{ role: '' }, { role: undefined }],
      [{ tenant: KILOBYTE }, { tenant: KILOBYTE + 'x' }],
    ];
    for (const [a, b] of pairs) {
      expect(buildKey({ ...base, ...a }), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`).not.toBe(buildKey({ ...base, ...b }));
    }
  });

  it('gives distinct keys across tenant, metric, region and role drawn from the tricky list', () => {
    const small = ['', 'a', 'a:b', ':', '%3A', '{', '}', '*', ' ', '\0', 'é', '😀', 'r=*', ',role=x'];
    const seen = new Set<string>();
    let n = 0;
    for (const tenant of small)
      for (const metric of small)
        for (const region of [undefined, ...small])
          for (const role of [undefined, ...small]) {
            seen.add(buildKey({ ...base, tenant, metric, region, role }));
            n++;
          }
    expect(seen.size).toBe(n);
  });

  it('parses back into exactly the components it was built from', () => {
    for (const tenant of TRICKY) {
      for (const region of regions) {
        const key = buildKey({ ...base, tenant, region });
        const [prefix, cacheVersion, taggedTenant, metric, metricVersion, scope, granularity, bucket, ...rest] = key.split(':');
        expect(rest).toEqual([]);
        expect([prefix, cacheVersion, metric, metricVersion, granularity, bucket]).toEqual(['dash', '1', 'REVENUE', '1', 'H', String(B)]);
        expect(taggedTenant!.startsWith('{') && taggedTenant!.endsWith('}')).toBe(true);
        expect(unescapeComponent(taggedTenant!.slice(1, -1))).toBe(tenant);
        expect(scope).toBe(region === undefined ? 'r=*' : `r=${escapeComponent(region)}`);
      }
    }
  });

  // The module comment promises that different inputs always give different keys.
  // Lone UTF-16 surrogates are valid JS strings (a JWT claim can carry "\ud800"),
  // and Buffer.from(…, 'utf8') would turn each into U+FFFD, making them collide.
  it('tells apart tenants that differ only by a lone surrogate', () => {
    const loneHigh = '\uD800';
    const loneLow = '\uDC00';
    const replacement = '\uFFFD';
    const tenants = [
      loneHigh,
      loneLow,
      replacement,
      `${loneHigh}a`,
      `${replacement}a`,
      `${loneLow}${loneHigh}`,
      '\u{10000}',
      '%uD800',
      'uD800',
    ];
    const keys = tenants.map((tenant) => buildKey({ ...base, tenant }));
    expect(new Set(keys).size).toBe(tenants.length);
    // Still a valid single component and hash tag.
    for (const tenant of tenants) expect(escapeComponent(tenant)).toMatch(/^[A-Za-z0-9_.%-]+$/);
    for (const [i, key] of keys.entries()) {
      expect(key.split(':')).toHaveLength(8);
      expect(hashTag(key)).toBe(escapeComponent(tenants[i]!));
    }
  });
});

describe('hash tag', () => {
  it('extracts tags per the Redis Cluster rule (helper self-check)', () => {
    expect(hashTag('{user1000}.following')).toBe('user1000');
    expect(hashTag('foo{}{bar}')).toBeNull();
    expect(hashTag('foo{{bar}}zap')).toBe('{bar');
    expect(hashTag('foo{bar}{zap}')).toBe('bar');
    expect(hashTag('nobraces')).toBeNull();
    expect(hashTag('open{only')).toBeNull();
  });

  it('is exactly the escaped tenant, for every tricky tenant', () => {
    for (const tenant of TRICKY) {
      for (const region of [undefined, '{x}', '}']) {
        const key = buildKey({ ...base, tenant, region, role: region === undefined ? undefined : '{r}' });
        expect(hashTag(key)).toBe(escapeComponent(tenant));
      }
    }
  });

  it('is shared by every key of one tenant, whatever the metric, scope, granularity or bucket', () => {
    const tenant = 'ac{me}:*';
    const dayStart = Math.floor(B / DAY) * DAY;
    const keys = [
      buildKey({ ...base, tenant }),
      buildKey({ ...base, tenant, metric: 'ORDERS', metricVersion: 3 }),
      buildKey({ ...base, tenant, region: undefined }),
      buildKey({ ...base, tenant, region: 'APAC', role: 'ADMIN' }),
      buildKey({ ...base, tenant, bucketStart: B + 5 * HOUR }),
      buildKey({ ...base, tenant, granularity: 'DAY', bucketStart: dayStart }),
      buildKey({ ...base, tenant, cacheVersion: '2' }),
    ];
    const tags = new Set(keys.map(hashTag));
    expect(tags).toEqual(new Set([escapeComponent(tenant)]));
    // And therefore one cluster slot.
    expect(new Set(keys.map((key) => calculateSlot(key))).size).toBe(1);
  });

  it('differs between tenants, so tenants spread over slots', () => {
    expect(hashTag(buildKey({ ...base, tenant: 'a' }))).not.toBe(hashTag(buildKey({ ...base, tenant: 'b' })));
  });

  it('of a lock key is the tag of its first bucket key', () => {
    const first = buildKey({ ...base, tenant: 'x{y}' });
    const lock = lockKey(first, 4);
    expect(lock).toBe(`${first}:lock:4`);
    expect(hashTag(lock)).toBe(hashTag(first));
    expect(calculateSlot(lock)).toBe(calculateSlot(first));
  });

  it('is the tenant part of tenantPrefix, which every key of the tenant starts with', () => {
    const prefix = tenantPrefix({ prefix: 'dash', cacheVersion: '1', tenant: 'a:b' });
    expect(prefix).toBe('dash:1:{a%3Ab}:');
    expect(buildKey({ ...base, tenant: 'a:b' }).startsWith(prefix)).toBe(true);
    expect(buildKey({ ...base, tenant: 'a:bc' }).startsWith(prefix)).toBe(false);
    expect(buildKey({ ...base, tenant: 'a' }).startsWith(prefix)).toBe(false);
  });
});

describe('metricPrefix', () => {
  it('is the documented start of every bucket key of the metric', () => {
    expect(metricPrefix(base)).toBe('dash:1:{acme}:REVENUE:1:');
    expect(buildKey(base).startsWith(metricPrefix(base))).toBe(true);
  });

  it('is a prefix of every key of that metric version and tenant, escaped like buildKey, for tricky names', () => {
    const dayStart = Math.floor(B / DAY) * DAY;
    for (const tenant of TRICKY) {
      for (const metric of ['REVENUE', 'a:b', '{x}', '', '%', '😀', KILOBYTE_UNSAFE]) {
        const prefix = metricPrefix({ ...base, tenant, metric });
        expect(prefix.split(':')).toHaveLength(6);
        for (const parts of [
          { region: 'x:y' },
          { region: undefined, role: '{r}' },
          { granularity: 'DAY' as const, bucketStart: dayStart },
          { bucketStart: B + 3 * HOUR },
        ]) {
          expect(buildKey({ ...base, tenant, metric, ...parts }).startsWith(prefix), JSON.stringify([tenant, metric, parts])).toBe(true);
        }
      }
    }
  });

  it('is not a prefix of the keys of another metric, metric version, tenant or cache version', () => {
    const prefix = metricPrefix({ ...base, tenant: 'a:b', metric: 'M:1' });
    const own = { ...base, tenant: 'a:b', metric: 'M:1' };
    for (const other of [
      { metric: 'M' },
      { metric: 'M:10' },
      { metric: 'M:1x' },
      { metricVersion: 10 },
      { metricVersion: 2 },
      { tenant: 'a' },
      { tenant: 'a:bc' },
      { cacheVersion: '2' },
    ]) {
      expect(buildKey({ ...own, ...other }).startsWith(prefix), JSON.stringify(other)).toBe(false);
    }
  });
});

describe('response keys', () => {
  const space = { prefix: 'dash', cacheVersion: '1' };
  const response = { ...space, tenant: 'acme', hash: 'q9_-Zx' };

  it('have the documented format', () => {
    expect(responseKey(response)).toBe('dash:1:{acme}:resp:q9_-Zx');
  });

  it("share the tenant's hash tag and slot with its validators and its buckets", () => {
    for (const tenant of TRICKY) {
      const key = responseKey({ ...response, tenant });
      expect(hashTag(key)).toBe(escapeComponent(tenant));
      expect(calculateSlot(key)).toBe(calculateSlot(validatorKey({ ...space, tenant, metric: 'REVENUE', metricVersion: 1 })));
      expect(calculateSlot(key)).toBe(calculateSlot(buildKey({ ...base, tenant })));
      expect(key.startsWith(tenantPrefix({ ...space, tenant }))).toBe(true);
    }
  });

  it('parse back into exactly the parts they were built from, for tricky parts', () => {
    for (const tenant of TRICKY) {
      for (const hash of ['0', 'q9_-Zx', 'a:b', '', '%', '😀', '\uD800']) {
        const parts = { ...response, tenant, hash };
        expect(parseResponseKey(responseKey(parts), space), JSON.stringify(parts)).toEqual(parts);
      }
    }
  });

  it('are told apart for tricky tenants and hashes', () => {
    const seen = new Set<string>();
    for (const tenant of TRICKY) for (const hash of ['0', 'a:b', 'a', 'b', '']) seen.add(responseKey({ ...response, tenant, hash }));
    expect(seen.size).toBe(TRICKY.length * 5);
  });

  it('parse nothing that is not a response key of this space', () => {
    const ours = responseKey(response);
    const notOurs = [
      '',
      '"abc"',
      'W/"dash:1:{acme}:resp:h"',
      buildKey(base),
      buildKey({ ...base, tenant: 'globex', region: undefined }),
      'dash:1:{globex}:ORDERS:1:r=*:H:0',
      validatorKey({ ...space, tenant: 'acme', metric: 'REVENUE', metricVersion: 1 }),
      lockKey(ours, 1),
      `${ours}:x`,
      `${ours} `,
      ours.replace('dash:', 'other:'),
      ours.replace('dash:1:', 'dash:2:'),
      'dash:1:{acme}:resp',
      'dash:1:{acme}:resp:0:h',
      'dash:1:{acme}:RESP:h',
      'dash:1:{acme}x:resp:h',
      'dash:1:{ac}me}:resp:h',
      'dash:1:{ac:me}:resp:h',
      'dash:1:acme:resp:h',
      'xdash:1:{acme}:resp:h',
      // Escapes that responseKey never writes: lower-case hex, an escaped safe
      // character, a broken escape, bytes that are not UTF-8, a surrogate pair as %u.
      'dash:1:{a%3ab}:resp:h',
      'dash:1:{%41cme}:resp:h',
      'dash:1:{acme%}:resp:h',
      'dash:1:{acme%2}:resp:h',
      'dash:1:{%FF}:resp:h',
      'dash:1:{%uD83D%uDE00}:resp:h',
      'dash:1:{a b}:resp:h',
    ];
    for (const key of notOurs) expect(parseResponseKey(key, space), key).toBeUndefined();
    expect(parseResponseKey(ours, space)).toEqual(response);
    expect(parseResponseKey(ours, { ...space, cacheVersion: '2' })).toBeUndefined();
  });
});

describe('FX keys', () => {
  const space = { prefix: 'dash', cacheVersion: '1' };

  it('have the documented formats: one rate per base currency, its lock beside it', () => {
    expect(fxRateKey({ ...space, base: 'USD' })).toBe('dash:1:{fx=USD}:rate');
    expect(fxLockKey({ ...space, base: 'USD' })).toBe('dash:1:{fx=USD}:rate:lock:1');
    expect(fxLockKey({ ...space, base: 'USD' })).toBe(lockKey(fxRateKey({ ...space, base: 'USD' }), 1));
  });

  it('put a rate and its lock in one slot, and escape every component', () => {
    for (const base of TRICKY) {
      const rate = fxRateKey({ ...space, base, cacheVersion: 'v:2' });
      expect(rate.split(':')).toHaveLength(4);
      expect(hashTag(rate)).toBe(`fx=${escapeComponent(base)}`);
      expect(calculateSlot(fxLockKey({ ...space, base, cacheVersion: 'v:2' }))).toBe(calculateSlot(rate));
    }
  });

  it('differ per base currency and cache version', () => {
    const keys = new Set(TRICKY.map((base) => fxRateKey({ ...space, base })));
    expect(keys.size).toBe(TRICKY.length);
    expect(fxRateKey({ ...space, base: 'USD' })).not.toBe(fxRateKey({ ...space, cacheVersion: '2', base: 'USD' }));
  });

  it("are never a tenant's key, nor under a tenant's prefix", () => {
    for (const tenant of [...TRICKY, 'fx=USD', 'fx', '{fx=USD}:rate']) {
      const prefix = tenantPrefix({ ...space, tenant });
      for (const key of [fxRateKey({ ...space, base: 'USD' }), fxLockKey({ ...space, base: 'USD' })]) {
        expect(key.startsWith(prefix), JSON.stringify(tenant)).toBe(false);
        expect(key).not.toBe(buildKey({ ...base, tenant }));
        expect(key).not.toBe(responseKey({ ...space, tenant, hash: 'rate' }));
      }
      expect(hashTag(buildKey({ ...base, tenant }))).not.toBe('fx=USD');
    }
  });
});

describe('validatePrefix', () => {
  it('returns a valid prefix unchanged', () => {
    expect(validatePrefix('dash')).toBe('dash');
    expect(validatePrefix('a.B_c-9')).toBe('a.B_c-9');
    expect(validatePrefix('p'.repeat(64))).toBe('p'.repeat(64));
  });

  it('refuses braces, colons, the empty string and overlong prefixes, naming the bad value', () => {
    for (const bad of ['{', '}', 'da{sh}', ':', 'dash:', '', ' ', 'p'.repeat(65), 'dash*']) {
      expect(() => validatePrefix(bad), JSON.stringify(bad)).toThrow(RangeError);
    }
    expect(() => validatePrefix('da{sh')).toThrow(/"da\{sh"/);
  });
});
