/**
 * Vendor rates, cached with their metadata in the cache store so that the vendor is
 * called at most once per rate TTL however many requests and instances ask. The
 * coordination is the cache core's: single flight in the process, the store lock
 * (cache/lock.ts) across instances, and a circuit breaker (cache/breaker.ts).
 *
 * | situation                               | what happens                                     |
 * |-----------------------------------------|--------------------------------------------------|
 * | fresh rate in this process              | served, no IO                                    |
 * | fresh rate in the store                 | served, remembered here                          |
 * | no fresh rate                           | one refresh per process (single-flight), one per |
 * |                                         | cluster (store lock, held up to timeoutMs + 1 s) |
 * | another instance holds the lock         | wait up to timeoutMs + 500 ms for its fresh rate |
 * |                                         | (polling the rate and the lock); else the rate   |
 * |                                         | that was stored, and the vendor is not called    |
 * | vendor slow (FX_TIMEOUT_MS), failing,   | the last good rate, `stale: true`; the circuit   |
 * |   or answering nonsense                 | opens and the vendor rests for `cooldownMs`      |
 * |                                         | (no calls: outcome `circuit_open`), then one     |
 * |                                         | trial call                                       |
 * | no rate was ever fetched                | SERVICE_UNAVAILABLE                              |
 * | unknown currency                        | BAD_USER_INPUT, and the vendor is not asked      |
 *
 * Stored entries live 7 days: long enough to serve stale through a vendor outage,
 * finite like every entry.
 */
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { createBreaker } from '../cache/breaker.js';
import { fxLockKey, fxRateKey } from '../cache/keys.js';
import { createStoreLock } from '../cache/lock.js';
import { createSingleFlight } from '../cache/single-flight.js';
import type { CacheStore } from '../cache/store.js';
import { invalidInput, unavailable } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { FxQuote, FxRates } from './fx.js';
import { fetchVendorRates, VendorError, type VendorRates } from './fx-vendor.js';
import { ISO_4217 } from './iso4217.js';

/**
 * How one attempt at the vendor ended, the label of `fx_vendor_requests_total`: a vendor
 * failure, `ok`, or `circuit_open` (not called: the vendor rests).
 */
export type VendorOutcome = 'ok' | 'timeout' | 'error' | 'invalid' | 'circuit_open';

/** What the vendor client reports; observability/ turns it into Prometheus metrics. */
export interface FxObserver {
  /** One attempt and, when the vendor was called, how long it took in ms. */
  vendorCall(outcome: VendorOutcome, durationMs?: number): void;
  /** A quote answered with rates older than the TTL. */
  staleServed(): void;
  /** The circuit opened (`true`) or closed again. */
  circuit(open: boolean): void;
}

/** @default cooldownMs 30000 */
export interface CachedVendorOptions {
  /** The vendor's base URL (FX_API_URL); rates come from `{apiUrl}/latest?from=<base>`. */
  apiUrl: string;
  /** How long fetched rates are fresh (FX_TTL_MS). */
  ttlMs: number;
  /** Longest one vendor call may take, body included (FX_TIMEOUT_MS). */
  timeoutMs: number;
  /** Where rates are shared between instances, and the lock kept: the cache store. */
  store: CacheStore;
  /** Global key prefix (CACHE_KEY_PREFIX), e.g. `dash`. */
  prefix: string;
  /** CACHE_VERSION, part of every key. */
  cacheVersion: string;
  /** Where vendor failures are logged. */
  logger: Logger;
  /** Told of every attempt, stale quote and circuit change. @default none */
  observer?: FxObserver;
  /** Epoch ms now: freshness, the breaker and the lock's deadline. @default Date.now */
  clock?: () => number;
  /** How long the vendor rests after a failure. @default 30000 */
  cooldownMs?: number;
  /** Sleeps between polls while another instance asks the vendor; injected by tests. @default setTimeout */
  sleep?: (ms: number) => Promise<void>;
}

const STORED_FOR_MS = 7 * 86_400_000;
const tracer = trace.getTracer('dashboard-api/fx');

/**
 * Vendor rates behind `FxRates`, cached and coordinated as the table above says;
 * `breakerOpen()` tells whether the vendor rests now. `quote` throws DomainError
 * E_INVALID_INPUT for a currency that is not ISO 4217 or that the vendor does not quote,
 * and E_UNAVAILABLE when no rate for the base was ever fetched.
 */
export function createCachedVendorRates(options: CachedVendorOptions): FxRates & { breakerOpen(): boolean } {
  const clock = options.clock ?? Date.now;
  const cooldownMs = options.cooldownMs ?? 30_000;
  const observer = options.observer;
  const remembered = new Map<string, VendorRates>();
  const refreshes = createSingleFlight();
  // Any failure rests the vendor: a failing vendor is not worth a second try soon.
  const breaker = createBreaker({ failureThreshold: 1, cooldownMs, clock, onChange: (state) => observer?.circuit(state === 'open') });
  // The lock outlives one vendor call (timeoutMs), and a waiter waits for one call.
  const lock = createStoreLock(options.store, {
    ttlMs: options.timeoutMs + 1_000,
    waitMs: options.timeoutMs + 500,
    clock,
    sleep: options.sleep,
  });

  const keyParts = (base: string) => ({ prefix: options.prefix, cacheVersion: options.cacheVersion, base });
  const keyOf = (base: string) => fxRateKey(keyParts(base));
  const isFresh = (rates: VendorRates | undefined) => rates !== undefined && clock() < rates.fetchedAt + options.ttlMs;
  const parse = (text: string | null | undefined): VendorRates | undefined => {
    try {
      return text ? (JSON.parse(text) as VendorRates) : undefined;
    } catch {
      return undefined;
    }
  };

  async function readStored(base: string): Promise<VendorRates | undefined> {
    try {
      const [text] = await options.store.getMany([keyOf(base)]);
      return parse(text);
    } catch {
      return undefined; // counted by the resilient store
    }
  }

  /** One vendor call, traced and counted. @throws VendorError */
  async function fetchTraced(base: string, started: number): Promise<VendorRates> {
    const span = tracer.startSpan('fx.vendor GET', {
      kind: SpanKind.CLIENT,
      attributes: {
        'http.request.method': 'GET',
        'url.full': `${options.apiUrl}/latest?from=${base}`,
        'server.address': new URL(options.apiUrl).hostname,
      },
    });
    try {
      const rates = await fetchVendorRates(options.apiUrl, base, options.timeoutMs, clock);
      span.setAttributes({ 'http.response.status_code': rates.httpStatus, 'fx.vendor.outcome': 'ok' });
      span.end();
      observer?.vendorCall('ok', performance.now() - started);
      return rates;
    } catch (error) {
      const outcome = error instanceof VendorError ? error.outcome : 'error';
      span.setAttributes({
        'fx.vendor.outcome': outcome,
        ...(error instanceof VendorError && error.httpStatus ? { 'http.response.status_code': error.httpStatus } : {}),
      });
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message });
      span.end();
      observer?.vendorCall(outcome, performance.now() - started);
      throw error;
    }
  }

  /** Fresh rates from the vendor, stored; undefined when it failed or rests. */
  async function callVendor(base: string): Promise<VendorRates | undefined> {
    const started = performance.now();
    let rates: VendorRates | undefined;
    try {
      rates = await breaker.run(
        () => fetchTraced(base, started),
        () => undefined,
      );
    } catch (error) {
      const outcome = error instanceof VendorError ? error.outcome : 'error';
      options.logger.warn({ outcome, err: error, cooldownMs }, 'FX vendor failed; serving the last good rate and resting the vendor');
      // Keep the failed attempt beside the last good rates: what an operator debugging the
      // vendor wants to see in the store.
      const stored = await readStored(base);
      if (stored) {
        const lastAttempt = {
          at: clock(),
          outcome,
          httpStatus: error instanceof VendorError ? error.httpStatus : undefined,
          latencyMs: Math.round(performance.now() - started),
        };
        await options.store
          .setMany([{ key: keyOf(base), value: JSON.stringify({ ...stored, lastAttempt }), ttlMs: STORED_FOR_MS }])
          .catch(() => {});
      }
      return undefined;
    }
    if (!rates) {
      observer?.vendorCall('circuit_open');
      return undefined;
    }
    await options.store.setMany([{ key: keyOf(base), value: JSON.stringify(rates), ttlMs: STORED_FOR_MS }]).catch(() => {});
    return rates;
  }

  /** Fresh rates if they can be had: from the store, else from the vendor by one worker; else the newest stored. */
  async function refresh(base: string): Promise<VendorRates | undefined> {
    let latest = await readStored(base);
    if (isFresh(latest)) return latest;
    return lock.run<VendorRates | undefined>({
      lockKey: fxLockKey(keyParts(base)),
      keys: [keyOf(base)],
      check([text]) {
        const rates = parse(text);
        if (rates) latest = rates;
        return isFresh(rates) ? rates : undefined;
      },
      compute: async () => (await callVendor(base)) ?? latest,
      // The holder's call failed, or took longer than a call may: never a second call
      // within the TTL, so what is stored is served (stale).
      onNoResult: () => latest,
    });
  }

  return {
    breakerOpen: () => breaker.state() === 'open',
    async quote(base, quote): Promise<FxQuote> {
      for (const code of [quote, base]) {
        if (!ISO_4217.has(code)) throw invalidInput('currency', `Unknown currency "${code}": expected an ISO 4217 code such as EUR.`);
      }
      let rates = remembered.get(base);
      if (!isFresh(rates)) {
        const got = await refreshes.run(base, () => refresh(base));
        if (got && (!rates || got.fetchedAt >= rates.fetchedAt)) {
          rates = got;
          remembered.set(base, got);
        }
      }
      if (!rates)
        throw unavailable(`No exchange rate for ${base} has ever been fetched and the FX vendor is not answering; try again later.`);
      const to = rates.rates[quote];
      if (to === undefined) throw invalidInput('currency', `The FX vendor offers no rate for "${quote}".`);
      const stale = !isFresh(rates);
      if (stale) observer?.staleServed();
      return { rate: to / (rates.rates[base] ?? 1), source: rates.source, fetchedAt: rates.fetchedAt, stale, vendorDate: rates.date };
    },
  };
}
