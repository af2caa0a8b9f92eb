/**
 * Dropping entries: by key (an event's exact buckets, each left as a short-lived
 * tombstone) or by prefix (all cached time of a metric). Counted per metric and
 * reason. A store that fails to drop is counted too; its entries then live until
 * their TTL, which is why every entry has one.
 *
 * Every drop also replaces the validators it is given (local-tier.ts): with the
 * tombstones, in one atomic step, for a drop by key; after the last key is gone, for
 * a drop by prefix (SCAN is not atomic, so a copy read while it ran carries the old
 * validator and is refused once the new one is there).
 */
import { VALIDATOR_TTL_MS } from './local-tier.js';
import { NOOP_OBSERVER, type CacheObserver } from './observer.js';
import { newValidator, type CacheStore } from './store.js';

/** Drops cached entries and replaces validators, counting what it dropped. */
export interface Invalidator {
  /**
   * Drops `keys` and replaces `validators`; resolves with how many entries existed (0 when
   * the store failed: the drop is then sent again behind, until it lands; see `pending`).
   */
  drop(metric: string, reason: string, keys: readonly string[], validators?: readonly string[]): Promise<number>;
  /** Drops that failed and are being sent again, until they land (at most `RETRY_LIMITS.maxAgeMs` after the write). */
  pending(): number;
  /** Stops sending failed drops again (at shutdown). */
  stop(): void;
  /** Deletes every key under `prefix`, then replaces `validators`; resolves with how many existed. */
  dropPrefix(metric: string, reason: string, prefix: string, validators?: readonly string[]): Promise<number>;
}

/** How failed drops are sent again: first after 250 ms, the wait doubling to 5 s, for up to two days (the longest an entry lives), at most 10,000 at once. */
export const RETRY_LIMITS = Object.freeze({ firstWaitMs: 250, maxWaitMs: 5_000, maxAgeMs: VALIDATOR_TTL_MS, maxPending: 10_000 });

/**
 * @param tombstoneMs how long a dropped key keeps its tombstone: at least as long as
 *   a recompute may run (the lock TTL), so that one started before the drop cannot
 *   write back what it read before the write.
 */
export function createInvalidator(
  store: CacheStore,
  observer: CacheObserver = NOOP_OBSERVER,
  clock: () => number = Date.now,
  tombstoneMs = 10_000,
  /** Told which keys were dropped, e.g. so that the read-through stops sharing work on them. */
  onDrop?: (keys: readonly string[]) => void,
  /**
   * Told which validators a drop replaced once the store has answered it (landed or
   * not), e.g. so that validators trusted in the bounded-staleness mode are read again.
   */
  onReplaced?: (validators: readonly string[]) => void,
): Invalidator {
  const count = (metric: string, reason: string, n: number) => {
    if (n > 0) observer.invalidated(metric, reason, n);
    return n;
  };
  // Drops the store refused (it was down, or the command never reached it): sent again
  // behind, with a growing wait, until one lands. A Redis that only hangs runs a drop it
  // was sent once it goes on; one that was unreachable never got it, and would serve the
  // entries of before the write once it is back with its data (persistence, a replica).
  // Sending it again closes that window; sending it twice is harmless (tombstones and a
  // new validator again).
  const retries = new Map<string, { send: () => Promise<number>; since: number; waitMs: number }>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = () => {
    if (timer || stopped || retries.size === 0) return;
    const waitMs = Math.min(...[...retries.values()].map((r) => r.waitMs));
    timer = setTimeout(() => void retryAll(), waitMs);
    timer.unref();
  };
  async function retryAll(): Promise<void> {
    timer = undefined;
    for (const [id, retry] of [...retries]) {
      if (stopped) return;
      if (performance.now() - retry.since > RETRY_LIMITS.maxAgeMs) {
        retries.delete(id); // every entry it was to drop has expired by now
        continue;
      }
      try {
        await retry.send();
        retries.delete(id);
      } catch {
        retry.waitMs = Math.min(retry.waitMs * 2, RETRY_LIMITS.maxWaitMs);
      }
    }
    schedule();
  }
  const retryLater = (id: string, send: () => Promise<number>) => {
    if (retries.size >= RETRY_LIMITS.maxPending) retries.delete(retries.keys().next().value!);
    retries.set(id, { send, since: performance.now(), waitMs: RETRY_LIMITS.firstWaitMs });
    schedule();
  };

  return {
    async drop(metric, reason, keys, validators = []) {
      if (keys.length === 0 && validators.length === 0) return 0;
      onDrop?.(keys);
      const at = clock();
      const bump = validators.length ? { keys: validators, value: newValidator(at), ttlMs: VALIDATOR_TTL_MS } : undefined;
      const send = () => store.invalidate(keys, at, tombstoneMs, bump);
      try {
        return count(metric, reason, await send());
      } catch {
        retryLater(`${metric}\u0000${keys.join('\u0000')}\u0000${validators.join('\u0000')}`, send);
        return 0;
      } finally {
        if (validators.length) onReplaced?.(validators);
      }
    },
    pending: () => retries.size,
    stop() {
      stopped = true;
      clearTimeout(timer);
      retries.clear();
    },
    async dropPrefix(metric, reason, prefix, validators = []) {
      const dropped = await store.deleteByPrefix(prefix).catch(() => 0);
      if (validators.length) {
        const value = newValidator(clock());
        await store.setMany(validators.map((key) => ({ key, value, ttlMs: VALIDATOR_TTL_MS }))).catch(() => {});
        onReplaced?.(validators);
      }
      return count(metric, reason, dropped);
    },
  };
}
