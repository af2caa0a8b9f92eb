/**
 * Isolation as a property (issue 10): over generated tenant, region, role and metric ids
 * (separators `:` `{` `}` `|` `/` `,` `=` `*`, `%` and what looks like an escape, unicode
 * lookalikes of the separators, NUL, lone surrogates, up to 128 characters), no two
 * different contexts share a key of any format in src/cache/keys.ts, a prefix of one
 * tenant (or metric) matches no key of another, and the hash tag keeps every key of one
 * tenant in one Redis Cluster slot. Example-based checks of the same module are in
 * keys.test.ts; these search the space around them.
 */
import calculateSlot from 'cluster-key-slot';
import fc from 'fast-check';
import { TRICKY_CHARS } from '../helpers/tricky-ids.js';
import { describe, expect, it } from 'vitest';
import { BUCKET_MS, type Granularity } from '../../src/cache/buckets.js';
import {
  buildKey,
  fxLockKey,
  fxRateKey,
  lockKey,
  metricPrefix,
  parseResponseKey,
  responseKey,
  tenantPrefix,
  validatorKey,
  type KeyParts,
} from '../../src/cache/keys.js';

const SPACE = { prefix: 'dash', cacheVersion: '1' } as const;
/** Runs per property: each compares pairs, so a few hundred cover the alphabet well and take well under a second. */
const RUNS = 300;

/**
 * A few characters, short ids: two random contexts then often differ only in how the
 * same characters fall between components, where a format that leaves a separator
 * unescaped (`a:b` + `c` against `a` + `b:c`) or folds a lone surrogate into U+FFFD
 * collides. Long random ids almost never line up so.
 */
const NEAR_CHARS = [':', '{', '}', 'a', '%', '3', 'A', '=', ',', '*', '\uD800', '\uDC00', '\uFFFD', '\0'];

/** An id of 0 to 128 characters: short ones of few characters, tricky ones, sometimes any code unit at all. */
const id = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: fc.constantFrom(...NEAR_CHARS), maxLength: 4 }) },
  { weight: 3, arbitrary: fc.string({ unit: fc.constantFrom(...TRICKY_CHARS), maxLength: 128 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 128 }) },
  { weight: 1, arbitrary: fc.constantFrom('acme', 'globex', 'EU', 'NA', 'ADMIN', '%3A', 'a'.repeat(128), ':'.repeat(128)) },
);
/** An instant inside the buckets the keys are about. */
const START = 1_795_600_800_000;
const granularity = fc.constantFrom<Granularity>('HOUR', 'DAY');

/** A bucket's full context; role and region sometimes absent (every region; a metric that does not depend on role). */
const context = fc
  .record({
    tenant: id,
    metric: fc.oneof(fc.constantFrom('REVENUE', 'ORDERS', 'CUSTOMERS', 'TOP_PRODUCTS'), id),
    metricVersion: fc.integer({ min: 1, max: 3 }),
    region: fc.option(id, { nil: undefined }),
    role: fc.option(id, { nil: undefined }),
    granularity,
    bucket: fc.integer({ min: 0, max: 3 }),
  })
  .map(({ bucket, ...c }): KeyParts => ({
    ...SPACE,
    ...c,
    bucketStart: START - (START % BUCKET_MS[c.granularity]) - bucket * BUCKET_MS[c.granularity],
  }));

const FIELDS = ['tenant', 'region', 'role', 'metric'] as const;

/** `value` with its code unit at `at` (modulo its length) replaced by `unit`; `unit` alone when empty. */
const swapUnit = (value: string | undefined, at: number, unit: string) =>
  !value ? unit : value.slice(0, at % value.length) + unit + value.slice((at % value.length) + 1);

/**
 * Two contexts: strangers; equal but in one part; or equal but for one character of one
 * part (`%3A` against `:`, a lone surrogate against U+FFFD), so that near misses are tried.
 */
const contextPair = fc.oneof(
  fc.tuple(context, context),
  fc.tuple(context, fc.constantFrom(...FIELDS), id).map(([c, field, value]) => [c, { ...c, [field]: value }] as const),
  fc
    .tuple(context, fc.constantFrom(...FIELDS), fc.nat(), fc.constantFrom(...NEAR_CHARS))
    .map(([c, field, at, unit]) => [c, { ...c, [field]: swapUnit(c[field], at, unit) }] as const),
);

const same = (a: KeyParts, b: KeyParts) =>
  a.tenant === b.tenant &&
  a.metric === b.metric &&
  a.metricVersion === b.metricVersion &&
  a.region === b.region &&
  a.role === b.role &&
  a.granularity === b.granularity &&
  a.bucketStart === b.bucketStart;

/** Every key the service writes for one context, by kind (the response hash drawn like any id). */
function keysOf(c: KeyParts, hash: string, spanLength: number) {
  const bucket = buildKey(c);
  return {
    bucket,
    validator: validatorKey(c),
    lock: lockKey(bucket, spanLength),
    response: responseKey({ ...SPACE, tenant: c.tenant, hash }),
  };
}

/** The Redis Cluster hash tag of a key (first `{` to the first `}` after it, when not empty). */
function hashTag(key: string): string | undefined {
  const open = key.indexOf('{');
  const close = open === -1 ? -1 : key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : undefined;
}

describe('isolation of cache keys (property)', () => {
  it('gives two contexts the same bucket key only when they are the same context', () => {
    fc.assert(
      fc.property(contextPair, ([a, b]) => {
        expect(buildKey(a) === buildKey(b)).toBe(same(a, b));
      }),
      { numRuns: RUNS },
    );
  });

  it('gives validators, locks and responses of different contexts different keys, and no key of one kind equals a key of another', () => {
    fc.assert(
      fc.property(contextPair, id, id, fc.integer({ min: 1, max: 2_160 }), ([a, b], hashA, hashB, n) => {
        const ka = keysOf(a, hashA, n);
        const kb = keysOf(b, hashB, n);
        expect(ka.validator === kb.validator).toBe(a.tenant === b.tenant && a.metric === b.metric && a.metricVersion === b.metricVersion);
        expect(ka.lock === kb.lock).toBe(same(a, b));
        expect(ka.response === kb.response).toBe(a.tenant === b.tenant && hashA === hashB);
        // Across kinds: a key of one kind is never a key of another, whatever the contexts.
        const kinds = ['bucket', 'validator', 'lock', 'response'] as const;
        for (const x of kinds) for (const y of kinds) if (x !== y) expect(ka[x]).not.toBe(kb[y]);
        // An FX key belongs to no tenant.
        for (const key of Object.values(ka)) {
          expect(key).not.toBe(fxRateKey({ ...SPACE, base: b.tenant }));
          expect(key).not.toBe(fxLockKey({ ...SPACE, base: b.tenant }));
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("never lets one tenant's prefix match another tenant's keys, nor one metric's prefix another metric's", () => {
    fc.assert(
      fc.property(contextPair, id, ([a, b], hash) => {
        const kb = keysOf(b, hash, 24);
        const ownsAll = Object.values(kb).every((key) => key.startsWith(tenantPrefix(b)));
        expect(ownsAll).toBe(true);
        if (a.tenant !== b.tenant) {
          for (const key of Object.values(kb)) {
            expect(key.startsWith(tenantPrefix(a))).toBe(false);
            expect(key.startsWith(metricPrefix(a))).toBe(false);
          }
        }
        // Dropping a metric by prefix drops exactly that tenant's buckets of that metric version.
        const sameMetric = a.tenant === b.tenant && a.metric === b.metric && a.metricVersion === b.metricVersion;
        expect(kb.bucket.startsWith(metricPrefix(a))).toBe(sameMetric);
        expect(kb.lock.startsWith(metricPrefix(a))).toBe(sameMetric);
        // ...and never a validator (replaced after the drop) or a whole response.
        expect(kb.validator.startsWith(metricPrefix(a))).toBe(false);
        expect(kb.response.startsWith(metricPrefix(a))).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });

  it('keeps every key of one tenant in one slot, tagged with that tenant alone, and parses a response key back to its tenant', () => {
    fc.assert(
      fc.property(contextPair, id, ([a, b], hash) => {
        const ka = keysOf(a, hash, 24);
        const kb = keysOf({ ...b, tenant: a.tenant }, hash, 24);
        const tags = new Set([...Object.values(ka), ...Object.values(kb)].map(hashTag));
        expect(tags.size).toBe(1);
        expect([...tags][0]).toBeDefined();
        const slots = new Set([...Object.values(ka), ...Object.values(kb)].map((key) => calculateSlot(key)));
        expect(slots.size).toBe(1);
        expect(parseResponseKey(ka.response, SPACE)).toEqual({ ...SPACE, tenant: a.tenant, hash });
        // A different tenant has a different tag (slots may coincide: 16,384 of them).
        if (a.tenant !== b.tenant) expect(hashTag(keysOf(b, hash, 24).bucket)).not.toBe(hashTag(ka.bucket));
      }),
      { numRuns: RUNS },
    );
  });
});
