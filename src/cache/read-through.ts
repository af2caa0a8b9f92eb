/**
 * The read-through: for a span of buckets, return each bucket's value and how it
 * was got (hit, miss, stale). It composes the request's validators (one batched
 * read; see local-tier.ts), the in-process tier, the request's loader (one batched
 * read of what the tier cannot serve), the freshness policy, in-process
 * single-flight, the store lock across processes, and the caller's `compute` (one
 * source query per contiguous span of misses).
 *
 * A warm request: validators MGET → every bucket from the tier → done (one command).
 * After a drop of one of its metrics: that metric's buckets from the store (a second
 * MGET), kept in the tier under the new validator.
 *
 * A store that fails never fails a read: the source answers and the failure is
 * counted by the resilient store underneath. A source that fails fails only the reads
 * that need a bucket nobody holds: a bucket the store still has, even past its stale
 * window, is served stale for `staleIfErrorMs` more (stale-if-error, RFC 5861; see
 * policy.ts `servesOnError`), and never kept in a composed value or whole response. Each request goes to the store through
 * a view of its own (request-store.ts): after one failed command it sends no more, so
 * a store that hangs costs a request one command timeout, not one per command.
 */
import { trace, type Attributes } from '@opentelemetry/api';
import { BUCKET_MS, bucketCount, bucketsOf, type BucketWindow, type Granularity } from './buckets.js';
import { decodeEntry, encodeEntry, type Entry } from './entry.js';
import {
  createBucketLoader,
  createReadCoalescer,
  createTrustedReads,
  createTurnReads,
  createValidatorReader,
  type BucketLoader,
  type ReadCoalescer,
  type ValidatorReader,
} from './loader.js';
import { estimateBytes, type LocalTier, type Validator } from './local-tier.js';
import { createStoreLock, type LockedWork, type LockOptions, type StoreLock } from './lock.js';
import { lockKey } from './keys.js';
import { NOOP_OBSERVER, type CacheObserver, type LookupResult } from './observer.js';
import { deadlines, decide, physicalTtlMs, servesOnError, type TtlPolicy } from './policy.js';
import { tombstoneTime, type CacheStore, type StoreWrite } from './store.js';
import type { ResilientStore } from './resilient-store.js';
import { createRequestStore, type RequestStore } from './request-store.js';
import { createSingleFlight } from './single-flight.js';
import { inSpan as inTracedSpan } from './spans.js';

/** One cached family of buckets: a metric for one scope at one granularity. */
export interface BucketSpec<V> {
  /** Metric name: the label of every count. */
  metric: string;
  /** Version stamped into entries: `<cacheVersion>/<metricVersion>`. */
  version: string;
  granularity: Granularity;
  ttl: TtlPolicy;
  /** The key of one bucket. */
  keyOf(bucketStart: number): string;
  /** Computes a contiguous span of buckets with one source query; absent buckets are `empty`. */
  compute(span: BucketWindow): Promise<ReadonlyMap<number, V>>;
  /** The value of a bucket with no source rows. */
  empty: V;
  /** The key of the validator the metric's drops replace (keys.ts `validatorKey`); without one the tier is not used. */
  validatorKey?: string | undefined;
}

/** One bucket of a read: its value and how it was got. */
export interface BucketResult<V> {
  bucket: number;
  value: V;
  how: LookupResult;
  /** Until when the value stays fresh, epoch ms (now for a stale one). */
  freshUntil: number;
  /** Until when it may still be served stale while a refresh runs, epoch ms. */
  staleUntil: number;
  /** True for a value served past its stale window because the source failed (both deadlines are then now). */
  staleIfError?: boolean;
}

/** Per request: the batching loader and what the request saw, for `extensions.cache`. */
export interface RequestCache {
  /** The store as this request sees it: after one failed command, nothing more is sent (request-store.ts). */
  readonly store: RequestStore;
  /** The lock protocol over this request's view of the store. */
  readonly lock: StoreLock;
  readonly loader: BucketLoader;
  /** The validators this request reads, once each, in one batch. */
  readonly validators: ValidatorReader;
  /** Per metric: buckets hit, missed and served stale in this request. */
  readonly stats: Map<string, Record<LookupResult, number>>;
  /** The earliest `freshUntil` of every bucket this request read: how long its answer holds. */
  freshUntil: number;
  /** The earliest `staleUntil` of every bucket this request read: how long its answer may be served stale. */
  staleUntil: number;
  /** Reads this request made, by first key, length and version: a window read twice (a series and a merge of it) is read once. */
  readonly reads: Map<string, Promise<Array<BucketResult<unknown>>>>;
  /** Per metric, the earliest `freshUntil` of its buckets this request read: which metrics a copy of its answer turns stale by. */
  readonly metricFreshUntil: Map<string, number>;
  /** Bucket keys already counted in `stats` for this request (a reused composed value by its first key): each counts once. */
  readonly counted: Set<string>;
}

/** The cache core: reads through the tier, the store and the source, and the in-process work they share. */
export interface CacheCore {
  /** A fresh per-request state. */
  forRequest(): RequestCache;
  /** Every bucket of `window` with its value and how it was got. */
  read<V>(spec: BucketSpec<V>, window: BucketWindow, request: RequestCache): Promise<Array<BucketResult<V>>>;
  /**
   * What `compose` makes of the window's buckets, reused from the tier while every
   * bucket it was made from is still fresh and the metric's validator has not moved
   * (so a warm request does work in proportion to what it returns, not to its
   * buckets). Counted as hits of every bucket, as a read of them would be.
   * @param sizeOf estimated bytes of a composed value, against the tier's bound.
   * @param kind names what `compose` makes, when one window has several (a series, a merge): each is kept apart.
   */
  readComposed<V, T>(
    spec: BucketSpec<V>,
    window: BucketWindow,
    request: RequestCache,
    compose: (results: ReadonlyArray<BucketResult<V>>) => Promise<T>,
    sizeOf: (results: ReadonlyArray<BucketResult<V>>) => number,
    kind?: string,
  ): Promise<T>;
  /**
   * What `compose` makes of the window, where each whole coarse bucket that has closed
   * and that the cache holds fresh stands in for its fine buckets (a closed day's DAY
   * entry for its 24 HOUR entries): for merges whose answer does not depend on how the
   * window is cut (sums, group maps, unions of exact sets). Coarse buckets are only
   * looked up, never computed for this: one not held is read as its fine buckets, so a
   * cold read stays the fine read it always was (one source query per contiguous span).
   * Reused from the tier as `readComposed` is. `compose` gets coarse and fine results
   * mixed, in no particular order.
   * @param usable whether a held coarse value may stand in (e.g. an exact set, not an estimate); default all.
   */
  readCover<V, T>(
    fine: BucketSpec<V>,
    coarse: BucketSpec<V>,
    window: BucketWindow,
    request: RequestCache,
    compose: (results: ReadonlyArray<BucketResult<V>>) => Promise<T>,
    sizeOf: (results: ReadonlyArray<BucketResult<V>>) => number,
    usable?: (value: V) => boolean,
  ): Promise<T>;
  /** Background refreshes and lock releases still running (tests and graceful stop wait on these). */
  idle(): Promise<void>;
  /**
   * Releases every span lock this process holds now, for a stop that cuts the requests
   * holding them: waiters on other instances compute at once instead of waiting for a
   * holder that will store nothing. A holder that finishes later releases nothing more
   * (the release is by token).
   */
  releaseHeld(): void;
  /**
   * Stops new requests of this process from joining reads and computations that cover
   * `keys` and began before they were dropped: those began before the write behind the
   * drop, so what they return may not show it. Their current waiters still get it.
   */
  forget(keys: readonly string[]): void;
  /**
   * Validator reads batched per turn of the event loop (loader.ts `createTurnReads`):
   * what the requests' validator readers use, and what a whole-response lookup should.
   * In the bounded-staleness mode, answered from what was read within the bound
   * (`createTrustedReads`).
   */
  readonly validatorReads: Pick<CacheStore, 'getMany'>;
  /**
   * Stops trusting validators read under `prefix` (the bounded-staleness mode; nothing to
   * do otherwise): for a drop once the store has it, or another instance's notice.
   */
  forgetValidators(prefix: string): void;
}

/** What the core is built from. */
export interface CacheCoreOptions {
  store: ResilientStore;
  observer?: CacheObserver;
  /** Epoch ms now. @default Date.now */
  clock?: () => number;
  lock?: Partial<LockOptions>;
  /** The in-process tier in front of the store; absent: every read goes to the store. */
  local?: LocalTier | undefined;
  /**
   * How long past its stale deadline a bucket is still served when the source fails to
   * recompute it (stale-if-error); entries live that much longer in the store. 0: off.
   * @default 0
   */
  staleIfErrorMs?: number | undefined;
  /**
   * The bounded-staleness mode: how long a validator read is taken again without asking
   * the store (loader.ts `createTrustedReads`). 0: every request reads its validators,
   * read-your-writes across instances. @default 0
   */
  stalenessBoundMs?: number | undefined;
}

const tracer = trace.getTracer('dashboard-api/cache');
const inSpan = <T>(name: string, attributes: () => Attributes, work: (set: (a: Attributes) => void) => Promise<T>) =>
  inTracedSpan(tracer, name, attributes, work);

/** Composes the core over a (resilient) store, with an optional in-process tier. */
export function createCacheCore(options: CacheCoreOptions): CacheCore {
  const { store, local } = options;
  // Semantic conventions name the store the lookups go to; the in-process store has none.
  const storeAttributes: Attributes =
    store.kind === 'memory' ? { 'cache.store': 'memory' } : { 'db.system': 'redis', 'cache.store': store.kind };
  const observer = options.observer ?? NOOP_OBSERVER;
  const clock = options.clock ?? Date.now;
  const staleIfErrorMs = options.staleIfErrorMs ?? 0;
  const lockOptions = { ...options.lock, clock };
  // One computation per span at a time in this process, whoever asks.
  const computations = createSingleFlight();
  const background = new Set<Promise<unknown>>();
  /** Keeps `work` (a refresh, a lock release nobody waits for) until it settles, for `idle()`. */
  const behind = <T>(work: Promise<T>): Promise<T> => {
    const kept = work.finally(() => background.delete(kept));
    background.add(kept);
    return kept;
  };
  /** Span locks this process holds, by key and token, until their release is sent. */
  const held = new Map<string, { key: string; token: string }>();
  const reads = createReadCoalescer(store);
  // Validators asked for in one turn of the event loop, by any request, go out in one read.
  const turnReads = createTurnReads(store);
  const trusted = options.stalenessBoundMs ? createTrustedReads(turnReads, { boundMs: options.stalenessBoundMs }) : undefined;
  const validatorReads = trusted ?? turnReads;
  // Concurrent requests for the same buckets in this process share one read.
  const sharedReads = createSingleFlight();

  function spansOf(buckets: number[], granularity: Granularity): BucketWindow[] {
    const size = BUCKET_MS[granularity];
    const spans: BucketWindow[] = [];
    for (const bucket of buckets) {
      const last = spans[spans.length - 1];
      if (last && last.to === bucket) spans[spans.length - 1] = { ...last, to: bucket + size };
      else spans.push({ granularity, from: bucket, to: bucket + size });
    }
    return spans;
  }

  /** The entry in `text`, or null; a corrupt entry is reported once, where it is first read. */
  function decodeOrNull<V>(text: string | null | Error | undefined, report = true): Entry<V> | null {
    if (typeof text !== 'string' || tombstoneTime(text) !== undefined) return null;
    try {
      return decodeEntry<V>(text);
    } catch (error) {
      if (report) observer.storeError('get', error);
      return null;
    }
  }

  /** Computes a span from the source, stores it, and returns bucket → value. */
  function computeAndStore<V>(
    spec: BucketSpec<V>,
    span: BucketWindow,
    validator: Validator,
    request: RequestCache,
  ): Promise<Map<number, V>> {
    return inSpan(
      'cache.recompute',
      () => ({
        'cache.metric': spec.metric,
        'cache.granularity': spec.granularity,
        'cache.buckets': bucketsOf(span).length,
        'cache.span.from': new Date(span.from).toISOString(),
        'cache.span.to': new Date(span.to).toISOString(),
      }),
      () => computeAndStoreNow(spec, span, validator, request),
    );
  }

  async function computeAndStoreNow<V>(
    spec: BucketSpec<V>,
    span: BucketWindow,
    validator: Validator,
    request: RequestCache,
  ): Promise<Map<number, V>> {
    const started = performance.now();
    // Before the source is read: an invalidation at or after this instant may concern a
    // row this computation does not see, so its result must not replace the tombstone.
    const readFrom = clock();
    observer.sourceQuery(spec.metric);
    let computed: ReadonlyMap<number, V>;
    try {
      computed = await spec.compute(span);
    } catch (error) {
      // Reported once per computation, however many requests share it; they decide what to serve.
      observer.sourceFailed?.(spec.metric, error);
      throw error;
    }
    const buckets = bucketsOf(span);
    observer.recomputed(spec.metric, buckets.length, performance.now() - started);
    const now = clock();
    const values = new Map<number, V>();
    const writes: StoreWrite[] = [];
    for (const bucket of buckets) {
      const value = computed.get(bucket) ?? spec.empty;
      values.set(bucket, value);
      const entry: Entry<V> = { value, computedAt: now, version: spec.version, ...deadlines(bucket, spec.granularity, now, spec.ttl) };
      const key = spec.keyOf(bucket);
      const text = encodeEntry(entry);
      // Kept through the stale-if-error grace too: that is when a store's copy is all there is.
      writes.push({ key, value: text, ttlMs: physicalTtlMs(entry, now, staleIfErrorMs) });
      // Under the validator read before the source was: a drop since then replaced it,
      // so this copy is refused by every request that reads the new one.
      if (local && spec.validatorKey) local.set(key, entry, validator, estimateBytes(key, text.length));
    }
    // Checked against the validator read before the source was too: a drop since then
    // whose tombstone was evicted (or expired) must not let this value land after it.
    if (spec.validatorKey && typeof validator !== 'string') return values;
    const check = spec.validatorKey ? { validator: { key: spec.validatorKey, value: validator! } } : {};
    await request.store.setMany(writes, { unlessInvalidatedSince: readFrom, ...check }).catch(() => {});
    return values;
  }

  /**
   * The values of a span of missing buckets: from another worker if one holds the
   * lock and finishes in time, else computed here (see lock.ts for the protocol).
   * A refresh (`wait` false) that finds the lock held leaves the span to its holder.
   */
  function fill<V>(
    spec: BucketSpec<V>,
    span: BucketWindow,
    wait: boolean,
    validator: Validator,
    request: RequestCache,
  ): Promise<Map<number, V>> {
    const buckets = bucketsOf(span);
    const keys = buckets.map((b) => spec.keyOf(b));
    const need = wait ? 'servable' : 'fresh';
    // Only requests that read the same validator share a computation (see loader.ts).
    const flightKey = `${keys[0]}|${keys.length}|${wait ? 'fill' : 'refresh'}|${String(validator)}`;
    const work: LockedWork<Map<number, V>> = {
      lockKey: lockKey(keys[0]!, keys.length),
      keys,
      check: (texts) => complete(spec, buckets, keys, texts, need, validator),
      compute: () => computeAndStore(spec, span, validator, request),
      ...(wait ? { aroundWait: (waitForHolder) => countedWait(spec.metric, buckets.length, waitForHolder) } : { onHeld: () => new Map() }),
    };
    // The request that starts the computation runs it, through its own view of the store.
    return computations.run(flightKey, () => request.lock.run(work), keys);
  }

  /** A wait for another worker's lock: counted, and traced with how it ended. */
  function countedWait<T>(metric: string, buckets: number, wait: () => Promise<T | undefined>): Promise<T | undefined> {
    observer.lockWaited(metric);
    return inSpan(
      'cache.lock_wait',
      () => ({ 'cache.metric': metric, 'cache.buckets': buckets, ...storeAttributes }),
      async (set) => {
        const got = await wait();
        set({ 'cache.lock_wait.outcome': got ? 'filled_by_holder' : 'computed_here' });
        return got;
      },
    );
  }

  /**
   * The span's values if every bucket in `texts` (the store's, for `keys`) is servable (or
   * fresh) now, else undefined. Values that make a result are kept in the tier under the
   * validator read before the store was, as a lookup's store read is: else a refresh that
   * finds the span refreshed by another instance would leave the stale copy in the tier,
   * served (and refreshed again) by every request until its stale deadline.
   */
  function complete<V>(
    spec: BucketSpec<V>,
    buckets: number[],
    keys: readonly string[],
    texts: ReadonlyArray<string | null>,
    need: 'servable' | 'fresh',
    validator: Validator,
  ): Map<number, V> | undefined {
    const now = clock();
    const entries = texts.map((t) => decodeOrNull<V>(t, false));
    const ok = (e: Entry<V> | null) =>
      need === 'fresh' ? decide(e, now, spec.version) === 'fresh' : decide(e, now, spec.version) !== 'miss';
    if (!entries.every(ok)) return undefined;
    if (local && spec.validatorKey)
      entries.forEach((entry, i) => local.set(keys[i]!, entry!, validator, estimateBytes(keys[i]!, texts[i]!.length)));
    return new Map(buckets.map((bucket, i) => [bucket, entries[i]!.value]));
  }

  function noteFresh(request: RequestCache, metric: string, freshUntil: number): void {
    const was = request.metricFreshUntil.get(metric);
    if (was === undefined || freshUntil < was) request.metricFreshUntil.set(metric, freshUntil);
  }

  /** Whether `request` counts `key` now: each bucket (or reused window) counts once per request, however many fields read it. */
  function firstCount(request: RequestCache, key: string): boolean {
    if (request.counted.has(key)) return false;
    request.counted.add(key);
    return true;
  }

  /** Counts a composed value reused for a request: every bucket it stands for, a hit. */
  function tallyReuse(
    metric: string,
    request: RequestCache,
    id: string,
    count: number,
    kept: Pick<Entry<unknown>, 'freshUntil' | 'staleUntil'>,
  ): void {
    if (kept.freshUntil < request.freshUntil) request.freshUntil = kept.freshUntil;
    if (kept.staleUntil < request.staleUntil) request.staleUntil = kept.staleUntil;
    noteFresh(request, metric, kept.freshUntil);
    if (!firstCount(request, id)) return;
    observer.lookup(metric, 'hit', count);
    const seen = request.stats.get(metric) ?? { hit: 0, miss: 0, stale: 0 };
    request.stats.set(metric, { hit: seen.hit + count, miss: seen.miss, stale: seen.stale });
  }

  /**
   * Counts what a request saw: in its stats each bucket once, in the observer once per
   * store read (`own`), or as hits for a request that joined another's read.
   */
  function tally(
    metric: string,
    request: RequestCache,
    keys: readonly string[],
    results: ReadonlyArray<BucketResult<unknown>>,
    own: boolean,
  ): void {
    const all = { hit: 0, miss: 0, stale: 0 };
    const first = { hit: 0, miss: 0, stale: 0 };
    let onError = 0;
    let freshUntil = Infinity;
    for (let i = 0; i < results.length; i++) {
      const r = results[i]!;
      all[r.how]++;
      if (r.staleIfError) onError++;
      if (firstCount(request, keys[i]!)) first[r.how]++;
      if (r.freshUntil < freshUntil) freshUntil = r.freshUntil;
      if (r.staleUntil < request.staleUntil) request.staleUntil = r.staleUntil;
    }
    if (freshUntil < request.freshUntil) request.freshUntil = freshUntil;
    noteFresh(request, metric, freshUntil);
    if (own) {
      for (const how of ['hit', 'miss', 'stale'] as const) if (all[how]) observer.lookup(metric, how, all[how]);
      if (all.stale) observer.staleServed(metric, all.stale);
      if (onError) observer.staleIfError?.(metric, onError);
    } else if (first.hit + first.miss + first.stale) {
      // A request that shared another's read looked its buckets up too: count them as
      // hits, which is what they were for it (no store or source work of its own).
      observer.lookup(metric, 'hit', first.hit + first.miss + first.stale);
    }
    const seen = request.stats.get(metric) ?? { hit: 0, miss: 0, stale: 0 };
    request.stats.set(metric, { hit: seen.hit + first.hit, miss: seen.miss + first.miss, stale: seen.stale + first.stale });
  }

  /**
   * Keeps a value composed from `results` in the tier, only when every one of them was
   * fresh (a stale one is being refreshed right now): served while fresh, kept as long as
   * its buckets may be served stale, which is what requests that reuse it report.
   */
  function keepComposed(
    tier: LocalTier,
    key: string,
    value: unknown,
    version: string,
    now: number,
    results: ReadonlyArray<BucketResult<unknown>>,
    validator: Validator,
    bytes: number,
  ): void {
    let freshUntil = Infinity;
    let staleUntil = Infinity;
    for (const r of results) {
      if (r.how === 'stale') return;
      if (r.freshUntil < freshUntil) freshUntil = r.freshUntil;
      if (r.staleUntil < staleUntil) staleUntil = r.staleUntil;
    }
    tier.set(key, { value, computedAt: now, version, freshUntil, staleUntil }, validator, bytes);
  }

  /**
   * Each key's entry, through `found(index, entry or null, now)`: from the tier where it
   * holds one under the validator just read (no store read), the rest in one batched store
   * read, kept in the tier under that validator.
   */
  async function lookUp<V>(
    spec: BucketSpec<V>,
    keys: readonly string[],
    request: RequestCache,
    validator: Validator,
    found: (index: number, entry: Entry<V> | null, now: number) => void,
  ): Promise<void> {
    const tier = local && spec.validatorKey ? local : undefined;
    const fromStore: number[] = [];
    const now = clock();
    for (let i = 0; i < keys.length; i++) {
      const entry = tier && validator !== undefined ? tier.getCarried<V>(keys[i]!, validator) : undefined;
      if (entry && entry.version === spec.version) found(i, entry, now);
      else fromStore.push(i);
    }
    if (!fromStore.length) return;
    const texts = await request.loader.loadMany(fromStore.map((i) => keys[i]!));
    const at = clock();
    fromStore.forEach((i, j) => {
      const text = texts[j] as string | null | Error;
      const entry = decodeOrNull<V>(text);
      if (entry && tier) tier.set(keys[i]!, entry, validator, estimateBytes(keys[i]!, (text as string).length));
      found(i, entry, at);
    });
  }

  /**
   * The coarse buckets among `buckets` held fresh under `validator`: from the tier, else
   * from the store (one batched read, kept in the tier). Nothing is computed, locked or
   * refreshed: a bucket not held (missing, stale, unusable, or the store failing) is
   * simply left to its fine buckets.
   */
  async function heldCoarse<V>(
    spec: BucketSpec<V>,
    buckets: number[],
    request: RequestCache,
    validator: Validator,
    usable: (value: V) => boolean,
  ): Promise<Map<number, BucketResult<V>>> {
    const held = new Map<number, BucketResult<V>>();
    const keep = (bucket: number, entry: Entry<V> | null | undefined, now: number) => {
      if (decide(entry, now, spec.version) === 'fresh' && usable(entry!.value))
        held.set(bucket, { bucket, value: entry!.value, how: 'hit', freshUntil: entry!.freshUntil, staleUntil: entry!.staleUntil });
    };
    await lookUp(
      spec,
      buckets.map((b) => spec.keyOf(b)),
      request,
      validator,
      (i, entry, now) => keep(buckets[i]!, entry, now),
    );
    return held;
  }

  async function readOwn<V>(
    spec: BucketSpec<V>,
    buckets: number[],
    keys: string[],
    request: RequestCache,
    validator: Validator,
  ): Promise<Array<BucketResult<V>>> {
    const results = new Array<BucketResult<V>>(buckets.length);
    const missing: number[] = [];
    const stale: number[] = [];
    // Entries of missing buckets that are only past their stale window: served if the source fails.
    const held = new Map<number, Entry<V>>();
    const classify = (i: number, entry: Entry<V> | null | undefined, now: number) => {
      const bucket = buckets[i]!;
      const freshness = decide(entry, now, spec.version);
      if (freshness === 'fresh')
        results[i] = { bucket, value: entry!.value, how: 'hit', freshUntil: entry!.freshUntil, staleUntil: entry!.staleUntil };
      else if (freshness === 'stale') {
        results[i] = { bucket, value: entry!.value, how: 'stale', freshUntil: now, staleUntil: entry!.staleUntil };
        stale.push(bucket);
      } else {
        missing.push(bucket);
        if (entry) held.set(bucket, entry);
      }
    };

    await lookUp(spec, keys, request, validator, classify);
    missing.sort((x, y) => x - y);
    stale.sort((x, y) => x - y);

    // Stale buckets are served now; one refresh per span runs behind the response.
    for (const span of spansOf(stale, spec.granularity)) {
      void behind(fill(spec, span, false, validator, request).catch(() => undefined));
      for (const b of bucketsOf(span)) request.loader.clear(spec.keyOf(b));
    }

    if (missing.length) {
      const index = new Map(buckets.map((b, i) => [b, i]));
      await Promise.all(
        spansOf(missing, spec.granularity).map(async (span) => {
          const values = await fill(spec, span, true, validator, request).catch((error: unknown) => {
            // The source failed: served from what the store held, if it held every bucket of
            // the span within its grace; else the read fails (the caller says the source is down).
            const at = clock();
            const spanBuckets = bucketsOf(span);
            if (!spanBuckets.every((bucket) => servesOnError(held.get(bucket), at, spec.version, staleIfErrorMs))) throw error;
            for (const bucket of spanBuckets) {
              request.loader.clear(spec.keyOf(bucket));
              // Deadlines of now: nothing built from it (a composed value, a whole response) is kept.
              results[index.get(bucket)!] = {
                bucket,
                value: held.get(bucket)!.value,
                how: 'stale',
                freshUntil: at,
                staleUntil: at,
                staleIfError: true,
              };
            }
            return undefined;
          });
          if (!values) return;
          for (const bucket of bucketsOf(span)) {
            request.loader.clear(spec.keyOf(bucket));
            results[index.get(bucket)!] = {
              bucket,
              value: values.get(bucket) ?? spec.empty,
              how: 'miss',
              ...deadlines(bucket, spec.granularity, clock(), spec.ttl),
            };
          }
        }),
      );
    }
    return results;
  }

  return {
    forRequest() {
      const view = createRequestStore(store, observer);
      const validators = createValidatorReader(view, clock, { getMany: (keys) => view.guard('get', () => validatorReads.getMany(keys)) });
      // A read shared with other requests still counts for this one: skipped once the
      // request has failed, and its failure fails the request's next commands.
      const ownReads: ReadCoalescer = { getMany: (keys, snapshot) => view.guard('get', () => reads.getMany(keys, snapshot)) };
      return {
        store: view,
        // Releases are not waited on (lock.ts), but `idle()` waits for them.
        lock: createStoreLock(
          {
            getMany: view.getMany,
            async acquireLock(key, token, ttlMs) {
              const acquired = await view.acquireLock(key, token, ttlMs);
              if (acquired) held.set(`${key}\n${token}`, { key, token });
              return acquired;
            },
            releaseLock(key, token) {
              held.delete(`${key}\n${token}`);
              return behind(view.releaseLock(key, token));
            },
          },
          lockOptions,
        ),
        // Bucket reads are shared only between requests that read the same validators.
        loader: createBucketLoader(ownReads, validators.snapshot),
        validators,
        stats: new Map(),
        freshUntil: Infinity,
        staleUntil: Infinity,
        reads: new Map(),
        counted: new Set(),
        metricFreshUntil: new Map(),
      };
    },

    async readComposed(spec, window, request, compose, sizeOf, kind = 'composed') {
      const tier = local && spec.validatorKey ? local : undefined;
      if (!tier) return compose(await this.read(spec, window, request));
      const validator = await request.validators.load(spec.validatorKey!);
      const count = bucketCount(window);
      // One key per window: the first bucket's key, the span's length, a mark no bucket key has.
      const key = `${spec.keyOf(window.from)}|${count}|${kind}`;
      const kept = tier.get<unknown>(key, validator);
      const now = clock();
      if (kept && kept.version === spec.version && now < kept.freshUntil) {
        tallyReuse(spec.metric, request, spec.keyOf(window.from), count, kept);
        return kept.value as never;
      }
      const results = await this.read(spec, window, request);
      const value = await compose(results);
      keepComposed(tier, key, value, spec.version, now, results, validator, sizeOf(results));
      return value;
    },

    async readCover<V, T>(
      fine: BucketSpec<V>,
      coarse: BucketSpec<V>,
      window: BucketWindow,
      request: RequestCache,
      compose: (results: ReadonlyArray<BucketResult<V>>) => Promise<T>,
      sizeOf: (results: ReadonlyArray<BucketResult<V>>) => number,
      usable: (value: V) => boolean = () => true,
    ): Promise<T> {
      const size = BUCKET_MS[coarse.granularity];
      const now = clock();
      // Whole coarse buckets inside the window that have closed: only those can be held
      // for good (an open day changes with every write into it).
      const candidates: number[] = [];
      for (let c = Math.ceil(window.from / size) * size; c + size <= window.to && c + size <= now; c += size) candidates.push(c);
      if (!candidates.length || coarse.validatorKey !== fine.validatorKey) {
        return this.readComposed(fine, window, request, compose, sizeOf, 'cover');
      }
      const tier = local && fine.validatorKey ? local : undefined;
      const validator: Validator = fine.validatorKey ? await request.validators.load(fine.validatorKey) : null;
      const key = `${fine.keyOf(window.from)}|${bucketCount(window)}|cover`;
      // Kept with how many buckets it was made from: what a reuse counts as hits.
      const kept = tier?.get<{ value: T; buckets: number }>(key, validator);
      if (kept && kept.version === fine.version && now < kept.freshUntil) {
        tallyReuse(fine.metric, request, fine.keyOf(window.from), kept.value.buckets, kept);
        return kept.value.value;
      }

      const held = await heldCoarse(coarse, candidates, request, validator, usable);
      // The fine buckets of the rest: contiguous windows, each read as any window is.
      const rest: BucketWindow[] = [];
      let from = window.from;
      for (const c of candidates) {
        if (!held.has(c)) continue;
        if (c > from) rest.push({ granularity: fine.granularity, from, to: c });
        from = c + size;
      }
      if (from < window.to) rest.push({ granularity: fine.granularity, from, to: window.to });
      const results: Array<BucketResult<V>> = [...held.values()];
      // Counted as hits, as a read of them would be.
      if (held.size)
        tally(
          coarse.metric,
          request,
          results.map((r) => coarse.keyOf(r.bucket)),
          results,
          false,
        );
      for (const part of await Promise.all(rest.map((w) => this.read(fine, w, request)))) results.push(...part);
      const value = await compose(results);
      if (tier) keepComposed(tier, key, { value, buckets: results.length }, fine.version, now, results, validator, sizeOf(results));
      return value;
    },

    read<V>(spec: BucketSpec<V>, window: BucketWindow, request: RequestCache) {
      const first = spec.keyOf(window.from);
      const id = `${first}|${bucketCount(window)}|${spec.version}`;
      let done = request.reads.get(id) as Promise<Array<BucketResult<V>>> | undefined;
      if (!done) request.reads.set(id, (done = readWindow(spec, window, request)));
      return done;
    },

    validatorReads,
    forgetValidators(prefix) {
      trusted?.forget(prefix);
    },
    forget(dropped) {
      computations.forget(dropped);
      sharedReads.forget(dropped);
    },

    releaseHeld() {
      for (const { key, token } of held.values()) void behind(store.releaseLock(key, token).catch(() => {}));
      held.clear();
    },

    async idle() {
      while (background.size) await Promise.allSettled([...background]);
    },
  };

  /** Every bucket of `window` through validators, tier, store, lock and source; see `read`. */
  async function readWindow<V>(spec: BucketSpec<V>, window: BucketWindow, request: RequestCache): Promise<Array<BucketResult<V>>> {
    const buckets = bucketsOf(window);
    const keys = buckets.map((b) => spec.keyOf(b));
    // Before anything of the buckets is read: what this request may serve from the tier,
    // and which in-process work it may join, depends on it (local-tier.ts).
    const validator: Validator = spec.validatorKey ? await request.validators.load(spec.validatorKey) : null;
    // Requests that join share the same array of results (callers treat it as read-only).
    let own = false;
    const results = await sharedReads.run(
      `${keys[0]}|${keys.length}|${spec.version}|${String(validator)}`,
      () => {
        own = true; // this request started the read (work starts inside `run`)
        return inSpan(
          'cache.lookup',
          () => ({
            'cache.metric': spec.metric,
            'cache.granularity': spec.granularity,
            'cache.buckets': buckets.length,
            ...storeAttributes,
          }),
          async (set) => {
            const results = await readOwn(spec, buckets, keys, request, validator);
            const counts = { hit: 0, miss: 0, stale: 0 };
            for (const r of results) counts[r.how]++;
            set({ 'cache.hits': counts.hit, 'cache.misses': counts.miss, 'cache.stale': counts.stale });
            return results;
          },
        );
      },
      keys,
    );
    tally(spec.metric, request, keys, results, own);
    return results;
  }
}
