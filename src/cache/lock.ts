/**
 * Recompute coordination across processes: a lock in the store per span of buckets.
 *
 * Protocol (per span):
 *
 * | who                      | does                                                       |
 * |--------------------------|------------------------------------------------------------|
 * | first worker             | SET lock token PX ttl NX → OK: computes, writes, releases   |
 * | others (NX fails)        | wait: poll the span's entries and the lock in one MGET      |
 * |   entries all there      | → use them (no source query)                               |
 * |   lock gone, entries not | → the holder failed: compute without the lock              |
 * |   waited `waitMs`        | → compute without the lock (bounded wait)                  |
 * | holder that dies         | its lock expires after `ttlMs`: nobody waits longer        |
 * | release                  | a script deletes the lock only if it still holds the token |
 * | store down               | no lock at all: each process computes (source answers)     |
 */
import { randomBytes } from 'node:crypto';

/** @default ttlMs 10000, waitMs 3000, pollMs 10 */
export interface LockOptions {
  /** Longest a lock lives: bounds how long a dead holder blocks anyone. @default 10000 */
  ttlMs: number;
  /** Longest a waiter waits before computing itself. @default 3000 */
  waitMs: number;
  /** First poll interval; grows by half each poll up to 100 ms. @default 10 */
  pollMs: number;
}

export const DEFAULT_LOCK: Readonly<LockOptions> = Object.freeze({ ttlMs: 10_000, waitMs: 3_000, pollMs: 10 });

/** A token unique to one acquisition, so that only its owner can release it. */
export function lockToken(): string {
  return randomBytes(12).toString('base64url');
}

/** Sleeps `ms`; injected so that tests can count polls. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
