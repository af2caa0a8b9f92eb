/**
 * Identical requests whose answer the whole-response layer does not keep (it read no
 * validated cache data, like `{ __typename }`, or it has errors) wait for one another
 * once: after an execution that kept nothing, the next identical requests execute side
 * by side instead of queueing behind one execution only to execute after it. Once an
 * execution keeps an answer, identical requests are served it again. In process
 * (yoga.fetch), with the memory store and the tier, executions held open by the test.
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
const SECRET = new TextEncoder().encode('response-cache-unkept-test-secret-32');

describe('identical requests whose answer is not kept', () => {
  it('execute side by side after one execution kept nothing, and are served whole again once one keeps', async () => {
    const clock = manualClock(NOW);
    const store = createMemoryStore({ clock });
    const validator = validatorKey({ prefix: 'dash', cacheVersion: '1', tenant: 'acme', metric: 'ORDERS', metricVersion: 1 });
    await store.setMany([{ key: validator, value: 'v1', ttlMs: 86_400_000 }]);
    const plugin = createResponseCache({
      store,
      tier: createLocalTier({ clock }),
      prefix: 'dash',
      cacheVersion: '1',
      secret: SECRET,
      maxLifeMs: 30_000,
      describe: false,
      clock,
    });
    let gate = deferred();
    let executions = 0;
    /** Whether an execution reads validated cache data (what makes its answer kept). */
    let readsCache = false;
    const yoga = createYoga({
      schema: createSchema({
        typeDefs: 'type Query { n: Int }',
        resolvers: {
          Query: {
            n: async () => {
              executions++;
              await gate.promise;
              return executions;
            },
          },
        },
      }),
      plugins: [plugin],
      context: () => {
        const at = clock();
        return {
          metrics: {
            validatedBy: () => (readsCache ? { keys: [validator], snapshot: validatorSnapshot([validator], ['v1']) } : undefined),
            freshUntil: () => at + 60_000,
            staleUntil: () => at + 600_000,
            freshUntilByMetric: () => new Map([['ORDERS', at + 60_000]]),
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

    // Nothing known of the request yet: the second waits for the first's execution.
    let asked = [ask(), ask()];
    await turnsUntil(() => executions === 1);
    await settle();
    expect(executions).toBe(1);
    gate.resolve();
    expect((await Promise.all(asked)).sort()).toEqual([1, 2]);

    // That execution kept nothing: now both execute at once.
    gate = deferred();
    asked = [ask(), ask()];
    await turnsUntil(() => executions === 4);
    gate.resolve();
    expect((await Promise.all(asked)).sort()).toEqual([4, 4]);

    // Answers that are kept again: one execution keeps it, the next request is served it whole.
    readsCache = true;
    expect(await ask()).toBe(5);
    expect(await ask()).toBe(5);
    expect(executions).toBe(5);
  });
});

/** Waits for a condition of this process's own state (no IO), a turn of the event loop at a time. */
async function turnsUntil(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1_000 && !condition(); i++) await new Promise((resolve) => setImmediate(resolve));
  expect(condition()).toBe(true);
}

/** A few turns of the event loop, for whatever was going to happen without IO to happen. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}
