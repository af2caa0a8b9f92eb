/**
 * Freshness policy: how long an entry is fresh, how long after that it may be
 * served stale while one refresh runs, and what a lookup makes of an entry now.
 *
 * A closed bucket (it ended before now) changes only through events, which drop its
 * entry, so it lives long. The open bucket (it contains now, or lies ahead) changes
 * all the time, so it is fresh briefly and then served stale while it is refreshed.
 * When the source fails, an entry may still be served past `staleUntil` for a grace
 * period (stale-if-error, RFC 5861): a value a little old beats no value while the
 * database is down. Nothing lives forever: the store expires every entry at
 * `staleUntil` plus that grace, which is bounded (config: CACHE_STALE_IF_ERROR_MS).
 */
import { BUCKET_MS, type Granularity } from './buckets.js';
import type { Entry } from './entry.js';

/** TTLs of one metric, in milliseconds. */
export interface TtlPolicy {
  /** Fresh life of a bucket that has not ended yet. @default 30000 */
  openFreshMs: number;
  /** Stale-while-revalidate window after that. @default 300000 */
  openStaleMs: number;
  /** Fresh life of a bucket that has ended. @default 86400000 (a day) */
  closedFreshMs: number;
  /** Stale-while-revalidate window after that. @default 3600000 */
  closedStaleMs: number;
}

/**
 * The TTLs of a metric that declares none (define.ts): an open bucket fresh 30 s and
 * served stale 5 min more, a closed one fresh a day and stale an hour more. Closed
 * buckets may live long because events drop them when their data changes.
 */
export const DEFAULT_TTL: Readonly<TtlPolicy> = Object.freeze({
  openFreshMs: 30_000,
  openStaleMs: 300_000,
  closedFreshMs: 86_400_000,
  closedStaleMs: 3_600_000,
});

/** True while the bucket has not ended: its data can still grow. */
export function isOpen(bucketStart: number, granularity: Granularity, now: number): boolean {
  return bucketStart + BUCKET_MS[granularity] > now;
}

/** Fresh and stale deadlines for a bucket computed `now`. */
export function deadlines(
  bucketStart: number,
  granularity: Granularity,
  now: number,
  ttl: TtlPolicy,
): { freshUntil: number; staleUntil: number } {
  const open = isOpen(bucketStart, granularity, now);
  const freshUntil = now + (open ? ttl.openFreshMs : ttl.closedFreshMs);
  return { freshUntil, staleUntil: freshUntil + (open ? ttl.openStaleMs : ttl.closedStaleMs) };
}

/**
 * What `decide` makes of an entry: `fresh` (serve it), `stale` (serve it, refresh in the
 * background) or `miss` (compute it; also for an entry of another version).
 */
export type Freshness = 'fresh' | 'stale' | 'miss';

/** What a lookup makes of an entry (or of none) at `now`, under the version expected. */
export function decide(entry: Entry | null | undefined, now: number, version: string): Freshness {
  if (!entry || entry.version !== version) return 'miss';
  if (now < entry.freshUntil) return 'fresh';
  if (now < entry.staleUntil) return 'stale';
  return 'miss';
}

/**
 * Whether `entry` may be served at `now` because the source failed to give a newer value:
 * of the version expected, and not past its stale deadline by `staleIfErrorMs` or more.
 * 0 turns stale-if-error off (only what `decide` serves anyway).
 */
export function servesOnError(entry: Entry | null | undefined, now: number, version: string, staleIfErrorMs: number): boolean {
  return !!entry && entry.version === version && now < entry.staleUntil + staleIfErrorMs;
}

/**
 * How long the store should keep the entry: until it can no longer be served, not even
 * when the source fails (`staleIfErrorMs` past its stale deadline). @default staleIfErrorMs 0
 */
export function physicalTtlMs(entry: Entry, now: number, staleIfErrorMs = 0): number {
  return Math.max(1, entry.staleUntil + staleIfErrorMs - now);
}
