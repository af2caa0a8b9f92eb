/**
 * The whole-response layer while executions are under way, in process (yoga.fetch), with
 * the memory store and the tier, and executions held open by the test:
 * - a response served stale counts as the field path counts a stale bucket:
 *   `cache_stale_served_total{metric}` once for each metric whose buckets in it turned
 *   stale, while one request's execution refreshes it;
 * - an execution on a miss runs the document as sent (the plugin's copy adds `__typename`
 *   to every selection set, for entity invalidation, which this layer does not use);
 * - identical requests started in the same tick cost one execution, the second taking
 *   the first's answer (a request never waits for its own execution);
 * - identical requests whose answer is not kept (it read no validated cache data, like
 *   `{ __typename }`, or it has errors) wait for one another once: after an execution
 *   that kept nothing, the next ones execute side by side instead of queueing behind one
 *   execution only to execute after it; once one keeps an answer, it is served whole.
 */
import { print, type GraphQLResolveInfo } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { signToken } from '../../src/auth/identity.js';
import { validatorKey } from '../../src/cache/keys.js';
import { validatorSnapshot } from '../../src/cache/loader.js';
import { createLocalTier } from '../../src/cache/local-tier.js';
import { createMemoryStore } from '../../src/cache/memory-store.js';
import { createResponseCache } from '../../src/graphql/plugins/response-cache.js';
import { deferred, manualClock, type ManualClock } from './cache-test-kit.js';

const NOW = Date.parse('2026-11-25T12:30:00Z');
const SECRET = new TextEncoder().encode('response-cache-executions-test-32b');
const VALIDATOR = validatorKey({ prefix: 'dash', cacheVersion: '1', tenant: 'acme', metric: 'ORDERS', metricVersion: 1 });

/**
 * Yoga with the layer over `{ n }`, whose resolver counts its executions and waits for
 * `gate` (or over `over`'s schema, asked `over.query`); each execution says it read what
 * `read()` gives (undefined: no validated cache data), fresh per metric for the given
 * milliseconds, servable stale for ten minutes.
 */
async function setup(
  read: () => { freshForMs: Record<string, number> } | undefined,
  over?: { typeDefs: string; resolvers: Record<string, Record<string, unknown>>; query: string },
) {
  const clock: ManualClock = manualClock(NOW);
  const store = createMemoryStore({ clock });
  await store.setMany([{ key: VALIDATOR, value: 'v1', ttlMs: 86_400_000 }]);
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
  const state = { gate: Promise.resolve(), executions: 0 };
  const yoga = createYoga({
    schema: createSchema({
      typeDefs: over?.typeDefs ?? 'type Query { n: Int }',
      resolvers: over?.resolvers ?? {
        Query: {
          n: async () => {
            state.executions++;
            await state.gate;
            return state.executions;
          },
        },
      },
    }),
    plugins: [plugin],
    // What an execution read, as the metrics reader says it.
    context: () => {
      const at = clock();
      const fresh = read()?.freshForMs;
      const until = new Map(Object.entries(fresh ?? {}).map(([metric, ms]) => [metric, at + ms]));
      return {
        metrics: {
          validatedBy: () => (fresh ? { keys: [VALIDATOR], snapshot: validatorSnapshot([VALIDATOR], ['v1']) } : undefined),
          freshUntil: () => Math.min(...until.values()),
          staleUntil: () => at + 600_000,
          freshUntilByMetric: () => until,
          seed: () => {},
        },
      };
    },
  });
  const token = await signToken({ tenant: 'acme', role: 'ADMIN' }, SECRET);
  const askText = async () => {
    const response = await yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: over?.query ?? '{ n }' }),
    });
    return response.text();
  };
  const ask = async () => (JSON.parse(await askText()) as { data: { n: number } }).data.n;
  return { clock, lookups, staleServed, state, ask, askText };
}

describe('a whole response served stale', () => {
  it('counts a stale value served for each metric whose buckets turned stale, and no other', async () => {
    // ORDERS' open hour fresh for 1 s, SESSIONS' buckets for 60 s.
    const { clock, lookups, staleServed, state, ask } = await setup(() => ({ freshForMs: { ORDERS: 1_000, SESSIONS: 60_000 } }));
    expect(await ask()).toBe(1);
    expect(await ask()).toBe(1);
    expect(lookups.filter((l) => l === 'hit')).toHaveLength(1);
    expect(staleServed).toEqual([]);

    // Past ORDERS' fresh deadline: the next request executes to refresh; held open here.
    clock.advance(2_000);
    const held = deferred();
    state.gate = held.promise;
    const refreshing = ask();
    await expect.poll(() => state.executions).toBe(2);
    // Meanwhile an identical request is served the stale copy, counted for ORDERS only.
    expect(await ask()).toBe(1);
    expect(staleServed).toEqual(['ORDERS']);
    held.resolve();
    expect(await refreshing).toBe(2);
    expect(lookups.filter((l) => l === 'stale')).toHaveLength(2);
  });
});

describe('an execution on a miss', () => {
  it('runs the document as sent, without the __typename the plugin adds to every selection set for entities', async () => {
    const executed: string[] = [];
    const { askText, lookups } = await setup(() => ({ freshForMs: { ORDERS: 60_000 } }), {
      typeDefs: 'type Point { start: Int value: Int } type Query { points: [Point] }',
      resolvers: {
        Query: {
          points: (_: unknown, __: unknown, ___: unknown, info: GraphQLResolveInfo) => {
            executed.push(print(info.operation));
            return [1, 2, 3].map((start) => ({ start, value: start * 10 }));
          },
        },
      },
      query: '{ points { start value } }',
    });
    const answer = '{"data":{"points":[{"start":1,"value":10},{"start":2,"value":20},{"start":3,"value":30}]}}';
    expect(await askText()).toBe(answer);
    expect(executed).toHaveLength(1);
    expect(executed[0]).not.toContain('__typename');
    // Kept as answered, and served whole.
    expect(await askText()).toBe(answer);
    expect(executed).toHaveLength(1);
    expect(lookups).toEqual(['miss', 'hit']);
  });
});

describe('identical requests started in the same tick (as pipelined requests are)', () => {
  it('cost one execution: the first executes, the second takes its answer, and neither waits for its own', async () => {
    const { state, ask, lookups } = await setup(() => ({ freshForMs: { ORDERS: 60_000 } }));
    const started = performance.now();
    expect(await Promise.all([ask(), ask()])).toEqual([1, 1]);
    expect(state.executions).toBe(1);
    expect(lookups).toEqual(['miss', 'miss', 'joined']);
    // Not let go by the 3 s bound on a wait (an execution that never ends).
    expect(performance.now() - started).toBeLessThan(3_000);
  });
});

describe('identical requests whose answer is not kept', () => {
  it('execute side by side after one execution kept nothing, and are served whole again once one keeps', async () => {
    let readsCache = false;
    const { state, ask, lookups } = await setup(() => (readsCache ? { freshForMs: { ORDERS: 60_000 } } : undefined));

    // Nothing known of the request yet: the second waits for the first's execution.
    let gate = deferred();
    state.gate = gate.promise;
    let asked = [ask(), ask()];
    await expect.poll(() => [state.executions, lookups.length]).toEqual([1, 2]);
    await settle();
    expect(state.executions).toBe(1);
    gate.resolve();
    expect((await Promise.all(asked)).sort()).toEqual([1, 2]);

    // That execution kept nothing: now both execute at once.
    gate = deferred();
    state.gate = gate.promise;
    asked = [ask(), ask()];
    await expect.poll(() => state.executions).toBe(4);
    gate.resolve();
    expect((await Promise.all(asked)).sort()).toEqual([4, 4]);

    // Answers that are kept again: one execution keeps it, the next request is served it whole.
    readsCache = true;
    expect(await ask()).toBe(5);
    expect(await ask()).toBe(5);
    expect(state.executions).toBe(5);
  });
});

/** A few turns of the event loop, for whatever was going to happen without IO to happen. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}
