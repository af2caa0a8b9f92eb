/**
 * `npm run simulate`: orders and sessions at the rate asked, through the API or the
 * `dashboard:events` stream (on a private Redis, so that no other test's consumer
 * takes the entries), landing in the dashboard the page shows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOUR_MS, iso, startTestApp, TEST_SECRET, type TestApp } from '../helpers/app.js';
import { eventually } from '../helpers/eventually.js';
import { runScript } from '../helpers/process.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis.js';

const SCRIPT = 'src/cli/simulate.ts';

/** Orders and sessions of acme over the hours around now, as the API answers. */
async function counts(app: TestApp): Promise<{ orders: number; sessions: number }> {
  const now = Date.now();
  const answer = await app.gql(`query($r: TimeRangeInput!) { dashboard(range: $r) { orders { total } sessions { total } } }`, {
    r: { from: iso(now - HOUR_MS), to: iso(now + HOUR_MS) },
  });
  expect(answer.body.errors).toBeUndefined();
  return { orders: answer.body.data.dashboard.orders.total, sessions: answer.body.data.dashboard.sessions.total };
}

describe('through the API', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ seed: { days: 1, scale: 0.05 } });
  }, 60_000);
  afterAll(async () => {
    await app?.close();
  });

  it('writes orders and sessions in turn at the rate asked, and stops after --count', async () => {
    const before = await counts(app);
    const started = Date.now();
    const child = runScript(SCRIPT, ['--tenant', 'acme', '--rate', '10', '--count', '6', '--url', app.url], { JWT_SECRET: TEST_SECRET });
    expect(await child.exited, child.output()).toBe(0);
    expect(child.output()).toContain('done: 3 orders, 3 sessions');
    // Six writes at 10 a second: the last one is due 0.5 s after the first.
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    expect(await counts(app)).toEqual({ orders: before.orders + 3, sessions: before.sessions + 3 });
  });

  it('runs until stopped, and says what it wrote', async () => {
    const child = runScript(SCRIPT, ['--tenant', 'acme', '--rate', '20', '--url', app.url], { JWT_SECRET: TEST_SECRET });
    await child.waitFor(/Ctrl-C stops/, 20_000);
    const before = await counts(app);
    await eventually(async () => (await counts(app)).orders >= before.orders + 2, 10_000, 'simulated orders');
    child.kill('SIGINT');
    expect(await child.exited).toBe(0);
    expect(child.output()).toMatch(/done: \d+ orders, \d+ sessions in [\d.]+ s, 0 failed/);
  });

  it('refuses what it cannot do, saying why', async () => {
    // Three child processes at once: each spends most of its time starting tsx.
    const unknown = runScript(SCRIPT, ['--tenant', 'umbrella'], {});
    const noRedis = runScript(SCRIPT, ['--tenant', 'acme', '--via', 'stream'], {});
    const down = runScript(SCRIPT, ['--tenant', 'acme', '--url', 'http://127.0.0.1:9', '--count', '1'], { JWT_SECRET: TEST_SECRET });
    expect(await Promise.all([unknown.exited, noRedis.exited, down.exited])).toEqual([2, 2, 1]);
    expect(unknown.output()).toContain('demo tenants acme, globex, initech');
    expect(noRedis.output()).toContain('REDIS_URL');
    expect(down.output()).toContain('cannot reach http://127.0.0.1:9/graphql');
  });
});

describe('through the dashboard:events stream', () => {
  let redis: RedisServerHandle;
  let app: TestApp;
  beforeAll(async () => {
    redis = await startRedisServer();
    app = await startTestApp({ seed: { days: 1, scale: 0.05 }, env: { REDIS_URL: redis.url } });
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it('publishes entries the API ingests as another service’s events', async () => {
    const before = await counts(app);
    const child = runScript(SCRIPT, ['--tenant', 'acme', '--rate', '20', '--count', '4', '--via', 'stream'], { REDIS_URL: redis.url });
    expect(await child.exited, child.output()).toBe(0);
    expect(child.output()).toContain('to the dashboard:events stream');
    await eventually(
      async () => {
        const now = await counts(app);
        return now.orders === before.orders + 2 && now.sessions === before.sessions + 2;
      },
      10_000,
      'the streamed orders and sessions in the dashboard',
    );
  });
});
