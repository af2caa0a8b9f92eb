/**
 * The metrics service: resolvers ask it for a metric over a window; it fetches the
 * buckets that metric's declaration names (through the cache when there is one) and
 * combines them as the declaration says. A reader is made per request so that a
 * metric needed by two fields (revenue for `revenue` and `averageOrderValue`) is
 * fetched once.
 */
import { bucketsOf, type BucketWindow, type Granularity } from '../cache/buckets.js';
import { bucketKeyOf, validatorKey } from '../cache/keys.js';
import type { LookupResult } from '../cache/observer.js';
import type { ValidatedBy } from '../cache/loader.js';
import type { BucketSpec, CacheCore, RequestCache } from '../cache/read-through.js';
import { countDistinct, sketchOf } from '../cache/sketch.js';
import { validateLimit } from '../domain/validation.js';
import { unavailable, type DomainError } from '../errors.js';
import type { AggregateSource } from '../source/aggregates.js';
import type { DataScope } from '../source/types.js';
import type {
  DistinctBucket,
  DistinctMetric,
  GroupMeasures,
  GroupsBucket,
  MetricArgs,
  MetricDefinition,
  MetricValue,
  StoredMetric,
  SumMetric,
  TopNMetric,
} from './define.js';
import { DASHBOARD_REGISTRY, type MetricRegistry } from './registry.js';
import type { SeriesModel } from './types.js';

/** What resolvers use during one request. */
export interface MetricsReader {
  /**
   * The value of `metric`'s field over `window` for `scope`: a series for sums and
   * distinct counts, ranked items for a top-N, a number (or null) for a derived metric.
   * @throws DomainError E_INVALID_INPUT for a `limit` outside the declaration's 1..max.
   */
  read<M extends MetricDefinition>(metric: M, scope: DataScope, window: BucketWindow, args?: MetricArgs): Promise<MetricValue<M>>;
  /** Reads (and caches) every bucket of a stored metric without composing a value: for warming. */
  prefetch(metric: StoredMetric, scope: DataScope, window: BucketWindow): Promise<void>;
  /** Per metric, buckets hit, missed and served stale so far in this request. */
  cacheStats(): Record<string, Record<LookupResult, number>>;
  /** Until when everything read so far stays fresh (epoch ms); Infinity when nothing was read, now when uncached. */
  freshUntil(): number;
  /** Until when everything read so far may still be served stale while refreshed (epoch ms); as `freshUntil` otherwise. */
  staleUntil(): number;
  /** Per metric read from the cache, until when its buckets read so far stay fresh (epoch ms). */
  freshUntilByMetric(): ReadonlyMap<string, number>;
  /**
   * What everything read so far can be checked against again (one read of validators),
   * so that an answer built from it may be reused while they have not moved; undefined
   * when something was read that no validator covers (see `readUnvalidated`), a
   * validator was unknown, or nothing was read from the cache.
   */
  validatedBy(): ValidatedBy | undefined;
  /** Marks that the answer also holds data no validator covers (a vendor's rate): `validatedBy` is undefined from now on. */
  readUnvalidated(): void;
  /**
   * What the store said before execution began, to a read this request made after it
   * started (the whole-response lookup): those validators are not read again; or, when
   * that read failed, nothing more is sent to the store (one wait on a failing store per request).
   */
  seed(read: { keys: readonly string[]; values: ReadonlyArray<string | null> } | { failed: unknown }): void;
}

/** The metrics service: a reader per request over the declarations. */
export interface MetricsService {
  /** The declarations this service serves. */
  readonly registry: MetricRegistry;
  /**
   * A reader whose lookups are shared for the life of one request.
   * @param role the caller's role: part of a key only for metrics whose value differs by role.
   */
  reader(role?: string): MetricsReader;
}

/** Where cached buckets live and how their keys are named. */
export interface MetricsCache {
  core: CacheCore;
  /** Key prefix, e.g. `dash`. */
  prefix: string;
  /** Global CACHE_VERSION. */
  cacheVersion: string;
}

/** How long a group's display name is remembered. */
export const LABEL_MEMORY_MS = 60_000;
const LABELS_MAX = 50_000;
/** Bucket specs remembered at most (metric × scope × granularity × role); a few hundred bytes each. */
const SPECS_MAX = 10_000;

/** The empty bucket, per way of combining. */
const EMPTY: Readonly<Record<StoredMetric['combine'], unknown>> = Object.freeze({
  sum: 0,
  distinct: Object.freeze<DistinctBucket>({ n: 0, s: sketchOf([]) }),
  topN: Object.freeze({}) as GroupsBucket,
});

/**
 * What a caller is told when the source fails and the cache holds nothing to serve
 * instead: which metric, and what to do; never the query or the driver's message (the
 * cause is kept for the log).
 */
function sourceDown(metric: string, cause: unknown): DomainError {
  return unavailable(
    `${metric} is not cached for this range and the source database is not answering; try again in a moment.`,
    { metric },
    cause,
  );
}

/**
 * One source query for a span of a stored metric's buckets: bucket → value, absent where
 * no rows. @throws DomainError E_UNAVAILABLE when the source fails.
 */
async function computeSpan(
  source: AggregateSource,
  metric: StoredMetric,
  scope: DataScope,
  span: BucketWindow,
): Promise<Map<number, unknown>> {
  try {
    return await querySpan(source, metric, scope, span);
  } catch (cause) {
    throw sourceDown(metric.name, cause);
  }
}

async function querySpan(
  source: AggregateSource,
  metric: StoredMetric,
  scope: DataScope,
  span: BucketWindow,
): Promise<Map<number, unknown>> {
  switch (metric.combine) {
    case 'sum':
      return new Map((await source.valuesPerBucket(metric.query, scope, span)).map((r) => [r.bucket, r.value]));
    case 'distinct': {
      const members = new Map<number, string[]>();
      for (const row of await source.membersPerBucket(metric.query, scope, span)) {
        let list = members.get(row.bucket);
        if (!list) members.set(row.bucket, (list = []));
        list.push(row.member);
      }
      return new Map([...members].map(([bucket, ids]) => [bucket, { n: ids.length, s: sketchOf(ids) } satisfies DistinctBucket]));
    }
    case 'topN': {
      const buckets = new Map<number, GroupsBucket>();
      for (const row of await source.groupsPerBucket(metric.query, scope, span)) {
        let bucket = buckets.get(row.bucket);
        if (!bucket) buckets.set(row.bucket, (bucket = {}));
        bucket[row.group] = row.values;
      }
      return buckets;
    }
  }
}

/**
 * @param cache absent: every bucket comes straight from the source (used to check
 *   that cached results equal uncached ones).
 */
export function createMetricsService(
  source: AggregateSource,
  cache?: MetricsCache,
  registry: MetricRegistry = DASHBOARD_REGISTRY,
  /** Epoch ms now, for how long display names are remembered. @default Date.now */
  clock: () => number = Date.now,
): MetricsService {
  /**
   * Specs made so far, by metric, scope, granularity and role, each with its key
   * components escaped once (keys.ts `bucketKeyOf`): a read makes no spec and escapes
   * nothing. Forgotten all at once past SPECS_MAX.
   */
  const specs = new Map<string, BucketSpec<unknown>>();
  function specFor<V>(metric: StoredMetric, scope: DataScope, granularity: Granularity, role: string | undefined): BucketSpec<V> {
    const id = JSON.stringify([metric.name, scope.tenant, scope.region ?? null, granularity, role ?? null]);
    let spec = specs.get(id);
    if (!spec) {
      if (specs.size >= SPECS_MAX) specs.clear();
      specs.set(id, (spec = makeSpec(metric, scope, granularity, role)));
    }
    return spec as BucketSpec<V>;
  }

  function makeSpec<V>(metric: StoredMetric, scope: DataScope, granularity: Granularity, role: string | undefined): BucketSpec<V> {
    const base = {
      prefix: cache!.prefix,
      cacheVersion: cache!.cacheVersion,
      tenant: scope.tenant,
      metric: metric.name,
      metricVersion: metric.version,
      region: metric.scope.region ? scope.region : undefined,
      role: metric.scope.role ? role : undefined,
      granularity,
    };
    return {
      metric: metric.name,
      version: `${cache!.cacheVersion}/${metric.version}`,
      granularity,
      ttl: metric.ttl,
      keyOf: bucketKeyOf(base),
      validatorKey: validatorKey(base),
      compute: (span) => computeSpan(source, metric, scope, span) as Promise<ReadonlyMap<number, V>>,
      empty: EMPTY[metric.combine] as V,
    };
  }

  // Concurrent identical requests share one read (the same results array): combine its
  // buckets once for all of them too. Keyed weakly, so gone with the read.
  const combined = new WeakMap<object, Promise<unknown>>();
  const combineOnce = <T>(read: object, combine: () => Promise<T>): Promise<T> => {
    let done = combined.get(read) as Promise<T> | undefined;
    if (!done) combined.set(read, (done = combine()));
    return done;
  };

  /** bucket → value for every bucket of the window: through the cache when there is one. */
  async function bucketValues<V>(
    metric: StoredMetric,
    scope: DataScope,
    window: BucketWindow,
    request: RequestCache | undefined,
    role: string | undefined,
  ): Promise<ReadonlyMap<number, V>> {
    if (!cache || !request) return (await computeSpan(source, metric, scope, window)) as ReadonlyMap<number, V>;
    const results = await cache.core.read(specFor<V>(metric, scope, window.granularity, role), window, request);
    return new Map(results.map((r) => [r.bucket, r.value]));
  }

  /** The composed range value: from the cache's tier while its buckets are unchanged and fresh, else composed now. */
  function composedValue(
    metric: StoredMetric,
    scope: DataScope,
    window: BucketWindow,
    request: RequestCache | undefined,
    role: string | undefined,
  ) {
    if (!cache || !request)
      return bucketValues(metric, scope, window, undefined, role).then((values) => compose(metric, scope, window, values));
    return cache.core.readComposed(
      specFor<unknown>(metric, scope, window.granularity, role),
      window,
      request,
      // Concurrent identical requests share one read (the same results array): combine
      // its buckets once for all of them too.
      (results) => combineOnce(results, () => compose(metric, scope, window, new Map(results.map((r) => [r.bucket, r.value])))),
      (results) => composedBytes(metric, results.length),
    );
  }

  /**
   * A merge over the whole window (a total, a group map, a distinct count). At HOUR, a
   * closed day's DAY entry stands in for its 24 hours wherever the cache holds it and
   * `usable` allows: the same answer from a 24th of the values (read-through.ts `readCover`).
   */
  function mergedValue<V, T>(
    metric: StoredMetric,
    scope: DataScope,
    window: BucketWindow,
    request: RequestCache | undefined,
    role: string | undefined,
    merge: (values: V[]) => T,
    usable?: (value: V) => boolean,
  ): Promise<T> {
    if (!cache || !request) return bucketValues<V>(metric, scope, window, undefined, role).then((values) => merge([...values.values()]));
    const fine = specFor<V>(metric, scope, window.granularity, role);
    const mergeResults = (results: ReadonlyArray<{ value: V }>) => Promise.resolve(merge(results.map((r) => r.value)));
    const sizeOf = (results: ReadonlyArray<unknown>) => (metric.combine === 'topN' ? 256 + results.length * 512 : 64);
    if (window.granularity !== 'HOUR' || !metric.granularities.includes('DAY'))
      return cache.core.readComposed(fine, window, request, mergeResults, sizeOf, 'merged');
    const coarse = specFor<V>(metric, scope, 'DAY', role);
    return cache.core.readCover(fine, coarse, window, request, mergeResults, sizeOf, usable);
  }

  /** The range value of a stored metric, composed from its buckets as its `combine` says. */
  function compose(metric: StoredMetric, scope: DataScope, window: BucketWindow, values: ReadonlyMap<number, unknown>): Promise<unknown> {
    switch (metric.combine) {
      case 'sum':
        return Promise.resolve(toSeries(window, values as ReadonlyMap<number, number>, metric.unit));
      case 'distinct':
        // Each point counts its own bucket; the range's total is a merge of its own (`distinctTotal`).
        return Promise.resolve(
          toSeries(window, new Map([...(values as ReadonlyMap<number, DistinctBucket>)].map(([b, v]) => [b, v.n])), 1),
        );
      case 'topN':
        return Promise.resolve(mergeGroups((values as ReadonlyMap<number, GroupsBucket>).values()));
    }
  }

  async function rank<Item>(
    metric: TopNMetric<Item>,
    scope: DataScope,
    totals: Map<string, GroupMeasures>,
    limit: number,
  ): Promise<Item[]> {
    const by = metric.rankBy;
    const ranked = [...totals.entries()]
      .sort(([idA, a], [idB, b]) => (b[by] ?? 0) - (a[by] ?? 0) || (idA < idB ? -1 : idA > idB ? 1 : 0))
      .slice(0, limit);
    const labels = await labelsOf(
      metric,
      scope.tenant,
      ranked.map(([key]) => key),
    );
    return ranked.map(([key, measures]) => metric.present(key, measures, labels.get(key) ?? key));
  }

  // Display names (product names) are not metrics and hardly ever change: remembered
  // for LABEL_MEMORY_MS so that a warm top-N asks the source nothing. Bounded.
  const labels = new Map<string, { label: string | undefined; until: number }>();
  async function labelsOf(metric: TopNMetric, tenant: string, keys: readonly string[]): Promise<Map<string, string>> {
    const now = clock();
    const id = (key: string) => `${metric.name}\u0000${tenant}\u0000${key}`;
    const out = new Map<string, string>();
    const unknown: string[] = [];
    for (const key of keys) {
      const known = labels.get(id(key));
      if (known && known.until > now) {
        if (known.label !== undefined) out.set(key, known.label);
      } else unknown.push(key);
    }
    if (unknown.length === 0) return out;
    let fetched: Map<string, string>;
    try {
      fetched = await source.labels(metric.labels, tenant, unknown);
    } catch (cause) {
      // The source is down: names remembered before, however long ago, beat no answer
      // (they hardly ever change); a group never named here fails the field.
      for (const key of unknown) {
        const known = labels.get(id(key));
        if (!known) throw sourceDown(metric.name, cause);
        if (known.label !== undefined) out.set(key, known.label);
      }
      return out;
    }
    if (labels.size > LABELS_MAX) labels.clear();
    for (const key of unknown) {
      const label = fetched.get(key);
      labels.set(id(key), { label, until: now + LABEL_MEMORY_MS });
      if (label !== undefined) out.set(key, label);
    }
    return out;
  }

  return {
    registry,
    reader(role) {
      const request = cache?.core.forRequest();
      let unvalidated = false;
      // Promises, not values, are memoised: two fields asking at once share one lookup.
      const memo = new Map<string, Promise<unknown>>();
      const once = <T>(key: string, compute: () => Promise<T>): Promise<T> => {
        let hit = memo.get(key) as Promise<T> | undefined;
        if (!hit) memo.set(key, (hit = compute()));
        return hit;
      };
      const keyOf = (what: string, scope: DataScope, window: BucketWindow) =>
        JSON.stringify([what, scope.tenant, scope.region ?? null, window.granularity, window.from, window.to]);

      /** A stored metric's composed range value, once per request (and per shared read). */
      const composed = (metric: StoredMetric, scope: DataScope, window: BucketWindow) =>
        once(keyOf(metric.name, scope, window), () => composedValue(metric, scope, window, request, role));
      /** A merge over the window, once per request. */
      const merged = <V, T>(
        metric: StoredMetric,
        scope: DataScope,
        window: BucketWindow,
        merge: (values: V[]) => T,
        usable?: (v: V) => boolean,
      ) => once(keyOf(`${metric.name}/merged`, scope, window), () => mergedValue(metric, scope, window, request, role, merge, usable));
      /** A derived metric's input total: merged, closed days from their DAY entries where held. */
      const totalOf = (metric: SumMetric | DistinctMetric, scope: DataScope, window: BucketWindow): Promise<number> =>
        metric.combine === 'distinct'
          ? distinctTotal(metric, scope, window)
          : merged<number, number>(metric, scope, window, (values) => values.reduce((sum, v) => sum + v, 0) / metric.unit);
      /** Distinct members over the window: merged sketches when cached (a DAY sketch only while it is an exact set, so the count is the same), else the source's exact count. */
      const distinctTotal = (metric: DistinctMetric, scope: DataScope, window: BucketWindow): Promise<number> =>
        cache
          ? merged<DistinctBucket, number>(
              metric,
              scope,
              window,
              (values) => countDistinct(values.map((v) => v.s)),
              (v) => v.s.k !== 'hll',
            )
          : once(keyOf(`${metric.name}/exact`, scope, window), () => source.distinctMembers(metric.query, scope, window));

      const reader: MetricsReader = {
        async read(metric, scope, window, args) {
          switch (metric.combine) {
            case 'sum':
              return (await composed(metric, scope, window)) as never;
            case 'distinct': {
              const [series, total] = await Promise.all([composed(metric, scope, window), distinctTotal(metric, scope, window)]);
              return { ...(series as SeriesModel), total } as never;
            }
            case 'topN': {
              const limit = validateLimit(args?.limit ?? metric.limit.default, 1, metric.limit.max, 'limit');
              const totals = await merged<GroupsBucket, Map<string, GroupMeasures>>(metric, scope, window, mergeGroups);
              return (await rank(metric, scope, totals, limit)) as never;
            }
            case 'derived': {
              const inputs = metric.inputs.map((name) => registry.get(name) as SumMetric | DistinctMetric);
              return metric.formula(await Promise.all(inputs.map((m) => totalOf(m, scope, window)))) as never;
            }
          }
        },
        async prefetch(metric, scope, window) {
          await bucketValues(metric, scope, window, request, role);
        },
        cacheStats: () => Object.fromEntries(request?.stats ?? []),
        freshUntil: () => (request ? request.freshUntil : memo.size > 0 ? 0 : Infinity),
        staleUntil: () => (request ? request.staleUntil : memo.size > 0 ? 0 : Infinity),
        freshUntilByMetric: () => request?.metricFreshUntil ?? new Map(),
        validatedBy: () => (unvalidated ? undefined : request?.validators.trusted()),
        readUnvalidated() {
          unvalidated = true;
        },
        seed(read) {
          if (!request) return;
          if ('failed' in read) request.store.fail(read.failed);
          else request.validators.prime(read.keys, read.values);
        },
      };
      return reader;
    },
  };
}

/** Estimated bytes of a composed value: a series' points, a merge's groups (bounded by the buckets' own). */
function composedBytes(metric: StoredMetric, buckets: number): number {
  return metric.combine === 'topN' ? 256 + buckets * 512 : 256 + buckets * 64;
}

/**
 * Every bucket of the window with its value (0 where the source had no rows).
 * Values are stored as integers and divided by `unit` only here, so totals are
 * exact sums of integers.
 */
export function toSeries(window: BucketWindow, buckets: ReadonlyMap<number, number>, unit: number): SeriesModel {
  let total = 0;
  const points = bucketsOf(window).map((start) => {
    const raw = buckets.get(start) ?? 0;
    total += raw;
    return { start, value: raw / unit };
  });
  return { total: total / unit, points };
}

/** Adds per-bucket group maps into one map over the range, measure by measure; the inputs are not changed. */
export function mergeGroups(buckets: Iterable<GroupsBucket>): Map<string, GroupMeasures> {
  const totals = new Map<string, GroupMeasures>();
  for (const bucket of buckets) {
    for (const [key, measures] of Object.entries(bucket)) {
      const sum = totals.get(key);
      if (!sum) {
        totals.set(key, { ...measures });
        continue;
      }
      for (const [name, value] of Object.entries(measures)) sum[name] = (sum[name] ?? 0) + value;
    }
  }
  return totals;
}
