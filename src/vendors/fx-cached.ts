/**
 * Vendor rates, cached with their metadata in the cache store so that the vendor is
 * called at most once per rate TTL however many requests and instances ask:
 *
 * | situation                               | what happens                                     |
 * |-----------------------------------------|--------------------------------------------------|
 * | fresh rate in this process              | served, no IO                                    |
 * | fresh rate in the store                 | served, remembered here                          |
 * | no fresh rate                           | one refresh per process (single-flight), one per |
 * |                                         | cluster (store lock); the others wait for it     |
 * | vendor slow (FX_TIMEOUT_MS), failing,   | the last good rate, `stale: true`; the circuit   |
 * |   or answering nonsense                 | opens and the vendor rests for `cooldownMs`      |
 * | no rate was ever fetched                | SERVICE_UNAVAILABLE                              |
 * | unknown currency                        | BAD_USER_INPUT, and the vendor is not asked      |
 *
 * Stored entries live 7 days: long enough to serve stale through a vendor outage,
 * finite like every entry.
 */
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { fxLockKey, fxRateKey } from '../cache/keys.js';
import { lockToken, sleep } from '../cache/lock.js';
import type { CacheStore } from '../cache/store.js';
import { invalidInput, unavailable } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { FxQuote, FxRates } from './fx.js';
import { fetchVendorRates, VendorError, type VendorRates } from './fx-vendor.js';
import { ISO_4217 } from './iso4217.js';

export type VendorOutcome = 'ok' | 'timeout' | 'error' | 'invalid' | 'circuit_open';

/** What the vendor client reports; observability/ turns it into Prometheus metrics. */
export interface FxObserver {
  vendorCall(outcome: VendorOutcome, durationMs?: number): void;
  staleServed(): void;
  circuit(open: boolean): void;
}

/** @default cooldownMs 30000 */
export interface CachedVendorOptions {
  apiUrl: string;
  ttlMs: number;
  timeoutMs: number;
  store: CacheStore;
  /** Global key prefix (CACHE_KEY_PREFIX), e.g. `dash`. */
  prefix: string;
  /** CACHE_VERSION, part of every key. */
  cacheVersion: string;
  logger: Logger;
  observer?: FxObserver;
  clock?: () => number;
  /** How long the vendor rests after a failure. @default 30000 */
  cooldownMs?: number;
}

const STORED_FOR_MS = 7 * 86_400_000;
const tracer = trace.getTracer('dashboard-api/fx');

export function createCachedVendorRates(options: CachedVendorOptions): FxRates & { breakerOpen(): boolean } {
  const clock = options.clock ?? Date.now;
  const cooldownMs = options.cooldownMs ?? 30_000;
  const observer = options.observer;
  const remembered = new Map<string, VendorRates>();
  const inFlight = new Map<string, Promise<VendorRates | undefined>>();
  let openUntil = 0;

  const keyOf = (base: string) => fxRateKey({ prefix: options.prefix, cacheVersion: options.cacheVersion, base });
  const isFresh = (rates: VendorRates | undefined) => rates !== undefined && clock() < rates.fetchedAt + options.ttlMs;

  async function readStored(base: string): Promise<VendorRates | undefined> {
    try {
      const [text] = await options.store.getMany([keyOf(base)]);
      return text ? (JSON.parse(text) as VendorRates) : undefined;
    } catch {
      return undefined; // counted by the resilient store
    }
  }

  async function callVendor(base: string): Promise<VendorRates | undefined> {
    if (clock() < openUntil) {
      observer?.vendorCall('circuit_open');
      return undefined;
    }
    const started = performance.now();
    const span = tracer.startSpan('fx.vendor GET', {
      kind: SpanKind.CLIENT,
      attributes: { 'http.request.method': 'GET', 'url.full': `${options.apiUrl}/latest?from=${base}`, 'server.address': new URL(options.apiUrl).hostname },
    });
    try {
      const rates = await fetchVendorRates(options.apiUrl, base, options.timeoutMs, clock);
      span.setAttributes({ 'http.response.status_code': rates.httpStatus, 'fx.vendor.outcome': 'ok' });
      span.end();
      observer?.vendorCall('ok', performance.now() - started);
      if (openUntil !== 0) observer?.circuit(false);
      openUntil = 0;
      await options.store.setMany([{ key: keyOf(base), value: JSON.stringify(rates), ttlMs: STORED_FOR_MS }]).catch(() => {});
      return rates;
    } catch (error) {
      const outcome = error instanceof VendorError ? error.outcome : 'error';
      span.setAttributes({ 'fx.vendor.outcome': outcome, ...(error instanceof VendorError && error.httpStatus ? { 'http.response.status_code': error.httpStatus } : {}) });
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message });
      span.end();
      observer?.vendorCall(outcome, performance.now() - started);
      openUntil = clock() + cooldownMs;
      observer?.circuit(true);
      options.logger.warn({ outcome, err: error, cooldownMs }, 'FX vendor failed; serving the last good rate and resting the vendor');
      // Keep the failed attempt beside the last good rates: what an operator debugging the
      // vendor wants to see in the store.
      const stored = await readStored(base);
      if (stored) {
        const lastAttempt = { at: clock(), outcome, httpStatus: error instanceof VendorError ? error.httpStatus : undefined, latencyMs: Math.round(performance.now() - started) };
        await options.store.setMany([{ key: keyOf(base), value: JSON.stringify({ ...stored, lastAttempt }), ttlMs: STORED_FOR_MS }]).catch(() => {});
      }
      return undefined;
    }
  }

  /** Fresh rates if they can be had: from the store, else from the vendor by one worker. */
  async function refresh(base: string): Promise<VendorRates | undefined> {
    const stored = await readStored(base);
    if (isFresh(stored)) return stored;
    const lock = fxLockKey({ prefix: options.prefix, cacheVersion: options.cacheVersion, base });
    const token = lockToken();
    const acquired = await options.store.acquireLock(lock, token, options.timeoutMs + 1_000).catch(() => true);
    if (acquired) {
      try {
        // Double check: whoever held the lock before may have just stored fresh rates.
        const again = await readStored(base);
        if (isFresh(again)) return again;
        return (await callVendor(base)) ?? again ?? stored;
      } finally {
        await options.store.releaseLock(lock, token).catch(() => {});
      }
    }
    // Another instance is asking the vendor: wait for its answer, as long as a call may take.
    const deadline = clock() + options.timeoutMs + 500;
    while (clock() < deadline) {
      await sleep(25);
      const now = await readStored(base);
      if (isFresh(now)) return now;
    }
    return stored;
  }

  return {
    breakerOpen: () => clock() < openUntil,
    async quote(base, quote): Promise<FxQuote> {
      for (const code of [quote, base]) {
        if (!ISO_4217.has(code)) throw invalidInput('currency', `Unknown currency "${code}": expected an ISO 4217 code such as EUR.`);
      }
      let rates = remembered.get(base);
      if (!isFresh(rates)) {
        let pending = inFlight.get(base);
        if (!pending) {
          pending = refresh(base).finally(() => inFlight.delete(base));
          inFlight.set(base, pending);
        }
        const got = await pending;
        if (got && (!rates || got.fetchedAt >= rates.fetchedAt)) {
          rates = got;
          remembered.set(base, got);
        }
      }
      if (!rates) throw unavailable(`No exchange rate for ${base} has ever been fetched and the FX vendor is not answering; try again later.`);
      const to = rates.rates[quote];
      if (to === undefined) throw invalidInput('currency', `The FX vendor offers no rate for "${quote}".`);
      const stale = !isFresh(rates);
      if (stale) observer?.staleServed();
      return { rate: to / (rates.rates[base] ?? 1), source: rates.source, fetchedAt: rates.fetchedAt, stale, vendorDate: rates.date };
    },
  };
}
