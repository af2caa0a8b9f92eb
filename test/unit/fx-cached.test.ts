/**
 * The cached FX client over the in-process memory store, with the cache core's
 * coordination: single flight, the store lock with another instance as its holder,
 * and the breaker resting a failing vendor. The vendor is a stand-in for `fetch`
 * (the e2e suite runs a real HTTP vendor); the clock is manual.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fxLockKey, fxRateKey } from '../../src/cache/keys.js';
import { createMemoryStore } from '../../src/cache/memory-store.js';
import type { CacheStore } from '../../src/cache/store.js';
import { createLogger } from '../../src/observability/logger.js';
import { createCachedVendorRates, type FxObserver, type VendorOutcome } from '../../src/vendors/fx-cached.js';
import type { VendorRates } from '../../src/vendors/fx-vendor.js';
import { deferred, flush, manualClock, steppedSleep, type ManualClock } from './cache-test-kit.js';

const T0 = Date.parse('2026-11-25T12:00:00Z');
const TTL_MS = 60_000;
const TIMEOUT_MS = 2_000;
const COOLDOWN_MS = 30_000;
const SPACE = { prefix: 'fxtest', cacheVersion: '1' };
const RATE_KEY = fxRateKey({ ...SPACE, base: 'USD' });
const LOCK_KEY = fxLockKey({ ...SPACE, base: 'USD' });

function recordingFxObserver() {
  const calls: Array<VendorOutcome> = [];
  const circuit: boolean[] = [];
  let stale = 0;
  const observer: FxObserver = {
    vendorCall: (outcome) => calls.push(outcome),
    staleServed: () => void stale++,
    circuit: (open) => circuit.push(open),
  };
  return { observer, calls, circuit, stale: () => stale };
}

/** The vendor: answers `eur` as the EUR rate, or fails with HTTP 500 while `failing`. */
function vendor() {
  const state = { eur: 0.9, failing: false, calls: 0, gate: undefined as Promise<void> | undefined };
  vi.spyOn(globalThis, 'fetch').mockImplementation(async () => {
    state.calls++;
    if (state.gate) await state.gate;
    if (state.failing) return new Response('down', { status: 500 });
    return new Response(JSON.stringify({ amount: 1, base: 'USD', date: '2026-11-25', rates: { EUR: state.eur, GBP: 0.8 } }), {
      status: 200,
    });
  });
  return state;
}

function client(store: CacheStore, clock: ManualClock, sleep?: (ms: number) => Promise<void>) {
  const fx = recordingFxObserver();
  const rates = createCachedVendorRates({
    apiUrl: 'http://fx.test',
    ttlMs: TTL_MS,
    timeoutMs: TIMEOUT_MS,
    store,
    ...SPACE,
    logger: createLogger('silent'),
    observer: fx.observer,
    clock,
    cooldownMs: COOLDOWN_MS,
    sleep,
  });
  return { rates, ...fx };
}

/** Rates as an instance stores them, fetched at `fetchedAt`. */
const storedRates = (fetchedAt: number, eur: number): VendorRates => ({
  base: 'USD',
  date: '2026-11-25',
  rates: { USD: 1, EUR: eur },
  source: 'fx.test',
  fetchedAt,
  latencyMs: 5,
  httpStatus: 200,
});
const store7d = (store: CacheStore, rates: VendorRates) =>
  store.setMany([{ key: RATE_KEY, value: JSON.stringify(rates), ttlMs: 7 * 86_400_000 }]);

afterEach(() => {
  vi.restoreAllMocks();
});

describe('cached FX rates: one vendor call per TTL', () => {
  it('asks the vendor once for concurrent quotes, stores the rates, and serves them fresh until the TTL ends', async () => {
    const clock = manualClock(T0);
    const store = createMemoryStore({ clock });
    const v = vendor();
    const { rates, calls } = client(store, clock);
    const quotes = await Promise.all([rates.quote('USD', 'EUR'), rates.quote('USD', 'GBP'), rates.quote('USD', 'EUR')]);
    expect(v.calls).toBe(1);
    expect(calls).toEqual(['ok']);
    expect(quotes.map((q) => [q.rate, q.stale])).toEqual([
      [0.9, false],
      [0.8, false],
      [0.9, false],
    ]);
    expect(JSON.parse((await store.getMany([RATE_KEY]))[0]!)).toMatchObject({ base: 'USD', rates: { EUR: 0.9 }, fetchedAt: T0 });
    clock.advance(TTL_MS - 1);
    await rates.quote('USD', 'EUR');
    expect(v.calls).toBe(1);
    clock.advance(1);
    v.eur = 0.95;
    expect((await rates.quote('USD', 'EUR')).rate).toBe(0.95);
    expect(v.calls).toBe(2);
  });

  it('serves fresh rates another instance stored, without asking the vendor', async () => {
    const clock = manualClock(T0);
    const store = createMemoryStore({ clock });
    const v = vendor();
    await store7d(store, storedRates(T0 - 1_000, 0.91));
    const { rates } = client(store, clock);
    expect(await rates.quote('USD', 'EUR')).toMatchObject({ rate: 0.91, stale: false, fetchedAt: T0 - 1_000 });
    expect(v.calls).toBe(0);
  });

  it('asks the vendor once across two instances that share the store', async () => {
    const clock = manualClock(T0);
    const store = createMemoryStore({ clock });
    const v = vendor();
    const gate = deferred();
    v.gate = gate.promise;
    // The waiter polls on the event loop, without moving the clock.
    const a = client(store, clock, () => flush());
    const b = client(store, clock, () => flush());
    const first = a.rates.quote('USD', 'EUR');
    await vi.waitFor(() => expect(v.calls).toBe(1));
    const second = b.rates.quote('USD', 'EUR');
    await flush();
    gate.resolve();
    expect((await first).rate).toBe(0.9);
    expect(await second).toMatchObject({ rate: 0.9, stale: false });
    expect(v.calls).toBe(1);
    expect(b.calls).toEqual([]);
  });
});

describe('cached FX rates: another instance holds the lock', () => {
  async function held(options: { stored?: VendorRates } = {}) {
    const clock = manualClock(T0);
    const store = createMemoryStore({ clock });
    const v = vendor();
    if (options.stored) await store7d(store, options.stored);
    expect(await store.acquireLock(LOCK_KEY, 'other-instance', TIMEOUT_MS + 1_000)).toBe(true);
    const sleep = steppedSleep(clock);
    return { clock, store, v, sleep, ...client(store, clock, sleep) };
  }

  it('waits for its fresh rate, polling with a growing interval, and never asks the vendor', async () => {
    const { store, v, sleep, rates, clock } = await held({ stored: storedRates(T0 - TTL_MS - 1, 0.85) });
    sleep.onSleep = async (poll) => {
      if (poll === 4) await store7d(store, storedRates(clock(), 0.93));
    };
    expect(await rates.quote('USD', 'EUR')).toMatchObject({ rate: 0.93, stale: false });
    expect(sleep.intervals).toEqual([10, 15, 22.5, 33.75]);
    expect(v.calls).toBe(0);
  });

  it('serves the stored rate as stale once it waited timeoutMs + 500 without a fresh one, and never asks the vendor', async () => {
    const { v, sleep, rates, clock, calls, stale } = await held({ stored: storedRates(T0 - TTL_MS - 1, 0.85) });
    expect(await rates.quote('USD', 'EUR')).toMatchObject({ rate: 0.85, stale: true });
    expect(clock()).toBe(T0 + TIMEOUT_MS + 500);
    expect(Math.max(...sleep.intervals)).toBe(100);
    expect(v.calls).toBe(0);
    expect(calls).toEqual([]);
    expect(stale()).toBe(1);
  });

  it('serves the stored rate at once when the holder lets go without a fresh one', async () => {
    const { store, v, sleep, rates } = await held({ stored: storedRates(T0 - TTL_MS - 1, 0.85) });
    sleep.onSleep = async (poll) => {
      if (poll === 2) await store.releaseLock(LOCK_KEY, 'other-instance');
    };
    expect(await rates.quote('USD', 'EUR')).toMatchObject({ rate: 0.85, stale: true });
    expect(sleep.intervals).toHaveLength(2);
    expect(v.calls).toBe(0);
  });

  it('fails with SERVICE_UNAVAILABLE when nothing was ever stored and the holder gives nothing', async () => {
    const { v, rates } = await held();
    await expect(rates.quote('USD', 'EUR')).rejects.toMatchObject({ code: expect.stringMatching(/UNAVAILABLE/) });
    expect(v.calls).toBe(0);
  });
});

describe('cached FX rates: a failing vendor rests', () => {
  it('serves the last good rate, opens the circuit after one failure, makes no calls for cooldownMs, then recovers', async () => {
    const clock = manualClock(T0);
    const store = createMemoryStore({ clock });
    const v = vendor();
    const { rates, calls, circuit } = client(store, clock);
    await rates.quote('USD', 'EUR');
    expect(rates.breakerOpen()).toBe(false);

    clock.advance(TTL_MS);
    v.failing = true;
    expect(await rates.quote('USD', 'EUR')).toMatchObject({ rate: 0.9, stale: true });
    expect(rates.breakerOpen()).toBe(true);
    expect(circuit).toEqual([true]);
    // The failed attempt is kept beside the last good rates.
    expect(JSON.parse((await store.getMany([RATE_KEY]))[0]!)).toMatchObject({
      rates: { EUR: 0.9 },
      lastAttempt: { outcome: 'error', httpStatus: 500, at: clock() },
    });

    v.failing = false;
    for (let i = 0; i < 3; i++) expect(await rates.quote('USD', 'EUR')).toMatchObject({ rate: 0.9, stale: true });
    clock.advance(COOLDOWN_MS - 1);
    await rates.quote('USD', 'EUR');
    expect(v.calls).toBe(2);
    expect(calls).toEqual(['ok', 'error', 'circuit_open', 'circuit_open', 'circuit_open', 'circuit_open']);
    expect(rates.breakerOpen()).toBe(true);

    clock.advance(1);
    expect(rates.breakerOpen()).toBe(false);
    v.eur = 0.97;
    expect(await rates.quote('USD', 'EUR')).toMatchObject({ rate: 0.97, stale: false });
    expect(v.calls).toBe(3);
    expect(circuit).toEqual([true, false]);
  });

  it('re-opens for a whole cooldown when the trial after the rest fails too', async () => {
    const clock = manualClock(T0);
    const store = createMemoryStore({ clock });
    const v = vendor();
    const { rates, circuit } = client(store, clock);
    await rates.quote('USD', 'EUR');
    clock.advance(TTL_MS);
    v.failing = true;
    await rates.quote('USD', 'EUR');
    clock.advance(COOLDOWN_MS);
    await rates.quote('USD', 'EUR');
    expect(v.calls).toBe(3);
    expect(circuit).toEqual([true, true]);
    clock.advance(COOLDOWN_MS - 1);
    await rates.quote('USD', 'EUR');
    expect(v.calls).toBe(3);
    expect(rates.breakerOpen()).toBe(true);
  });
});
