/**
 * The whole-response layer counts a response served stale as the field path counts a
 * stale bucket: `cache_stale_served_total{metric}` once for each metric whose buckets in
 * it turned stale, while one request's execution refreshes it. In process (yoga.fetch),
 * with the memory store and the tier, and an execution held open by the test.
 */
import { createSchema, createYoga } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { signToken } from '../../src/auth/identity.js';
import { validatorKey } from '../../src/cache/keys.js';
import { validatorSnapshot } from '../../src/cache/loader.js';
import { createLocalTier } from '../../src/cache/local-tier.js';
import { createMemoryStore } from '../../src/cache/memory-store.js';
import { createResponseCache } from '../../src/graphql/plugins/response-cache.js';
import { deferred, manualClock } from './cache-test-kit.js';

const NOW = Date.parse('2026-11-25T12:30:00Z');
const SECRET = new TextEncoder().encode('response-cache-stale-test-secret-32b');

describe('a whole response served stale', () => {
  it('counts a stale value served for each metric whose buckets turned stale, and no other', async () => {
    const clock = manualClock(NOW);
    const store = createMemoryStore({ clock });
    const validator = validatorKey({ prefix: 'dash', cacheVersion: '1', tenant: 'acme', metric: 'ORDERS', metricVersion: 1 });
    await store.setMany([{ key: validator, value: 'v1', ttlMs: 86_400_000 }]);
    const lookups: string[] = [];
    const staleServed: string[] = [];
    const plugin = createResponseCache({
      store,
      tier: createLocalTier({ clock }),
      prefix: 'dash',
      cacheVersion: '1',
      secret: SECRET,
      maxLifeMs: 30_000,
      describe: false,
      clock,
      observer: { lookup: (result) => lookups.push(result), staleServed: (metric) => staleServed.push(metric) },
    });
    let gate: Promise<void> = Promise.resolve();
    let executions = 0;
    const yoga = createYoga({
      schema: createSchema({
        typeDefs: 'type Query { n: Int }',
        resolvers: {
          Query: {
            n: async () => {
              executions++;
              await gate;
              return executions;
            },
          },
        },
      }),
      plugins: [plugin],
      // What an execution read, as the metrics reader says it: ORDERS' open hour fresh for
      // 1 s, SESSIONS' buckets for 60 s; both servable stale for 10 minutes.
      context: () => {
        const at = clock();
        return {
          metrics: {
            validatedBy: () => ({ keys: [validator], snapshot: validatorSnapshot([validator], ['v1']) }),
            freshUntil: () => at + 1_000,
            staleUntil: () => at + 600_000,
            freshUntilByMetric: () =>
              new Map([
                ['ORDERS', at + 1_000],
                ['SESSIONS', at + 60_000],
              ]),
            seed: () => {},
          },
        };
      },
    });
    const token = await signToken({ tenant: 'acme', role: 'ADMIN' }, SECRET);
    const ask = async () => {
      const response = await yoga.fetch('http://localhost/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: '{ n }' }),
      });
      return ((await response.json()) as { data: { n: number } }).data.n;
    };

    expect(await ask()).toBe(1);
    expect(await ask()).toBe(1);
    expect(lookups.filter((l) => l === 'hit')).toHaveLength(1);
    expect(staleServed).toEqual([]);

    // Past ORDERS' fresh deadline: the next request executes to refresh; held open here.
    clock.advance(2_000);
    const held = deferred();
    gate = held.promise;
    const refreshing = ask();
    await turnsUntil(() => executions === 2);
    // Meanwhile an identical request is served the stale copy, counted for ORDERS only.
    expect(await ask()).toBe(1);
    expect(staleServed).toEqual(['ORDERS']);
    held.resolve();
    expect(await refreshing).toBe(2);
    expect(lookups.filter((l) => l === 'stale')).toHaveLength(2);
  });
});

/** Waits for a condition of this process's own state (no IO), a turn of the event loop at a time. */
async function turnsUntil(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1_000 && !condition(); i++) await new Promise((resolve) => setImmediate(resolve));
  expect(condition()).toBe(true);
}
