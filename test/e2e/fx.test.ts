/**
 * `revenueIn` with the FX vendor: a real HTTP server on loopback plays the vendor
 * (slow, 500, hanging, malformed), counting its calls.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fxRateKey } from '../../src/cache/keys.js';
import { DAY_MS, iso, startTestApp, type TestApp } from '../helpers/app.js';
import { startFakeVendor, type FakeVendor } from '../helpers/fake-vendor.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis.js';

const RANGE = `range: { from: "${iso(Date.now() - 2 * DAY_MS)}", to: "${iso(Date.now() - DAY_MS)}" }`;
const Q = (currency = 'EUR') =>
  `{ dashboard(${RANGE}) { revenue { total } revenueIn(currency: "${currency}") { currency amount rate source fetchedAt stale vendorDate } } }`;

describe('a healthy vendor', () => {
  let vendor: FakeVendor;
  let redis: RedisServerHandle;
  let apps: TestApp[];
  beforeAll(async () => {
    [vendor, redis] = await Promise.all([startFakeVendor(), startRedisServer()]);
    const env = { FX_API_URL: vendor.url, REDIS_URL: redis.url };
    apps = await Promise.all([startTestApp({ env }), startTestApp({ env })]);
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
    await Promise.all([vendor.close(), redis.stop()]);
  });

  it('converts with the vendor rate and says where and when it came from', async () => {
    const res = await apps[0]!.gql(Q());
    expect(res.body.errors).toBeUndefined();
    const { revenue, revenueIn } = res.body.data.dashboard;
    expect(revenueIn).toMatchObject({
      currency: 'EUR',
      rate: 0.9,
      source: vendor.url.replace('http://', ''),
      stale: false,
      vendorDate: '2026-11-25',
    });
    expect(revenueIn.amount).toBeCloseTo(revenue.total * 0.9, 2);
    expect(Math.abs(Date.parse(revenueIn.fetchedAt) - Date.now())).toBeLessThan(60_000);
  });

  it('is called at most once per TTL however many requests and instances ask', async () => {
    const before = vendor.calls;
    const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => apps[i % 2]!.gql(Q(i % 3 === 0 ? 'GBP' : 'EUR'))));
    expect(answers.every((a) => !a.body.errors)).toBe(true);
    expect(vendor.calls - before).toBe(0);
    expect(vendor.calls).toBe(1);
  });

  it('refuses an unknown currency with BAD_USER_INPUT and never asks the vendor about it', async () => {
    const before = vendor.calls;
    const res = await apps[0]!.gql(Q('XYZ'));
    expect(res.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(res.body.errors?.[0]?.message).toMatch(/Unknown currency "XYZ"/);
    // A real currency the vendor does not offer is refused too, from the cached rates.
    const chf = await apps[0]!.gql(Q('CHF'));
    expect(chf.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(chf.body.errors?.[0]?.message).toMatch(/offers no rate for "CHF"/);
    expect(vendor.calls).toBe(before);
  });
});

describe('a vendor in trouble', () => {
  let vendor: FakeVendor;
  let clock = Date.now();
  let t: TestApp;
  beforeAll(async () => {
    vendor = await startFakeVendor();
    t = await startTestApp({ env: { FX_API_URL: vendor.url, FX_TTL_MS: '60000', FX_TIMEOUT_MS: '300' }, clock: () => clock });
  });
  afterAll(async () => {
    await t?.close();
    await vendor?.close();
  });
  beforeEach(() => {
    vendor.mode = 'ok';
  });

  /** Moves past the rate TTL and the circuit's cool-down, so the next request asks the vendor. */
  const nextPeriod = () => (clock += 61_000);

  it('fails with SERVICE_UNAVAILABLE only while no rate was ever fetched', async () => {
    vendor.mode = 'error500';
    const res = await t.gql(Q());
    expect(res.body.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
    expect(res.body.data.dashboard.revenue.total).toBeGreaterThan(0);
    expect(res.body.data.dashboard.revenueIn).toBeNull();
    nextPeriod();
    vendor.mode = 'ok';
    const ok = await t.gql(Q());
    expect(ok.body.data.dashboard.revenueIn).toMatchObject({ rate: 0.9, stale: false });
  });

  for (const mode of ['error500', 'slow', 'hang', 'malformed', 'missing-currency', 'negative-rate', 'wrong-base'] as const) {
    it(`serves the last good rate as stale when the vendor is ${mode}, and rests it`, async () => {
      const good = (await t.gql(Q())).body.data.dashboard.revenueIn;
      nextPeriod();
      vendor.mode = mode;
      vendor.rates = { EUR: 0.95, GBP: 0.8, JPY: 150 };
      const calls = vendor.calls;
      const res = await t.gql(Q());
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data.dashboard.revenueIn).toMatchObject({ rate: good.rate, fetchedAt: good.fetchedAt, stale: true });
      expect(vendor.calls).toBe(calls + 1);
      // The circuit is open: further requests do not call the vendor during the cool-down.
      await Promise.all(Array.from({ length: 5 }, () => t.gql(Q())));
      expect(vendor.calls).toBe(calls + 1);
      const metrics = await t.metrics();
      expect(metrics.value('fx_vendor_circuit_open')).toBe(1);
      expect(metrics.value('fx_stale_served_total')).toBeGreaterThanOrEqual(6);
      // Recovery: after the cool-down a healthy vendor is asked again and the rate is fresh.
      nextPeriod();
      vendor.mode = 'ok';
      const back = await t.gql(Q());
      expect(back.body.data.dashboard.revenueIn).toMatchObject({ rate: 0.95, stale: false });
      expect((await t.metrics()).value('fx_vendor_circuit_open')).toBe(0);
      vendor.rates = { EUR: 0.9, GBP: 0.8, JPY: 150 };
    });
  }

  it('keeps the rates with their metadata, and the last failed attempt beside them, in the store', async () => {
    nextPeriod();
    vendor.mode = 'error500';
    await t.gql(Q());
    const [text] = await t.app.store.getMany([fxRateKey({ prefix: 'dash', cacheVersion: '1', base: 'USD' })]);
    const stored = JSON.parse(text!);
    expect(stored).toMatchObject({
      base: 'USD',
      date: '2026-11-25',
      source: vendor.url.replace('http://', ''),
      httpStatus: 200,
      rates: { USD: 1, EUR: 0.95 },
      lastAttempt: { outcome: 'error', httpStatus: 500, at: clock },
    });
    expect(stored.latencyMs).toBeGreaterThan(0);
    expect(typeof stored.fetchedAt).toBe('number');
    nextPeriod();
    vendor.mode = 'ok';
    await t.gql(Q());
  });

  it('counts vendor calls by outcome', async () => {
    const m = await t.metrics();
    for (const outcome of ['ok', 'error', 'timeout', 'invalid'])
      expect(m.value('fx_vendor_requests_total', { outcome }), outcome).toBeGreaterThan(0);
    expect(m.value('fx_vendor_request_duration_seconds_count')).toBeGreaterThan(0);
  });
});
