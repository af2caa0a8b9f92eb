/**
 * What the cache did for a panel's last fetch, and how long that answer stays fresh,
 * from the response's `extensions` and its `Cache-Control` header. Pure.
 */
import type { MetricName } from './gql/graphql.js';
import { METRICS_READ_BY, type PanelField } from './fields.js';

/** How a panel's last answer was got. */
export type CacheDetail =
  /** Buckets of the metrics it reads: hit, missed (computed from the source) and served stale. */
  | { kind: 'buckets'; hit: number; miss: number; stale: number }
  /** The whole response came from the whole-response layer (`extensions.responseCache.hit`). */
  | { kind: 'whole' }
  /** The server sends no cache details to this caller (production without PAGE_CACHE_DETAILS, or a VIEWER there). */
  | { kind: 'hidden' }
  /** The answer read no bucket for this panel (its field failed, say). */
  | { kind: 'none' };

type Stats = Partial<Record<string, { hit?: number; miss?: number; stale?: number }>>;

/**
 * The cache detail of `field` in an answer with these `extensions`: "served whole" when
 * the whole-response layer answered, else the bucket counts of the metrics the field
 * reads (a derived value reads its inputs').
 */
export function cacheDetailOf(field: PanelField, extensions: Readonly<Record<string, unknown>> | undefined): CacheDetail {
  const responseCache = extensions?.responseCache as { hit?: unknown } | undefined;
  if (responseCache?.hit === true) return { kind: 'whole' };
  const stats = extensions?.cache as Stats | undefined;
  if (!stats || typeof stats !== 'object') return { kind: 'hidden' };
  const read = METRICS_READ_BY[field].map((metric: MetricName) => stats[metric]).filter((s) => s !== undefined);
  if (read.length === 0) return { kind: 'none' };
  const sum = (key: 'hit' | 'miss' | 'stale') => read.reduce((n, s) => n + (s[key] ?? 0), 0);
  return { kind: 'buckets', hit: sum('hit'), miss: sum('miss'), stale: sum('stale') };
}

/**
 * Seconds the answer stays fresh by its `Cache-Control` (`max-age`); 0 for `no-store`
 * or `no-cache`; undefined without the header.
 */
export function maxAgeOf(cacheControl: string | null | undefined): number | undefined {
  if (!cacheControl) return undefined;
  const match = /(?:^|,)\s*max-age=(\d+)/i.exec(cacheControl);
  if (match) return Number(match[1]);
  return /no-store|no-cache/i.test(cacheControl) ? 0 : undefined;
}

/**
 * One line a person reads: "buckets: 12 hit · 1 missed · 0 stale", naming the metrics
 * when a panel reads more than one ("REVENUE + ORDERS buckets: …"), or "served whole".
 */
export function describeCache(detail: CacheDetail, production: boolean, metrics: readonly string[] = []): string {
  switch (detail.kind) {
    case 'whole':
      return 'served whole (response cache)';
    case 'buckets':
      return `${metrics.length > 1 ? `${metrics.join(' + ')} buckets` : 'buckets'}: ${detail.hit} hit · ${detail.miss} missed · ${detail.stale} stale`;
    case 'hidden':
      return production ? 'cache details off in production (PAGE_CACHE_DETAILS), never for a VIEWER' : 'no cache details in this answer';
    case 'none':
      return 'no buckets read';
  }
}

/** "fresh for 30 s", "fresh for 23 h", or what the header says instead. */
export function describeFreshness(maxAgeS: number | undefined, cacheControl: string | null | undefined): string {
  if (maxAgeS === undefined) return 'freshness not stated';
  if (/no-store/i.test(cacheControl ?? '')) return 'not cacheable (no-store)';
  if (maxAgeS === 0)
    return /must-revalidate/i.test(cacheControl ?? '') ? 'revalidated on every fetch (max-age=0)' : 'fresh for 0 s (max-age=0)';
  if (maxAgeS < 120) return `fresh for ${maxAgeS} s`;
  if (maxAgeS < 7_200) return `fresh for ${Math.round(maxAgeS / 60)} min`;
  return `fresh for ${Math.round(maxAgeS / 3_600)} h`;
}
