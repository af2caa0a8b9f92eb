/**
 * The envelope every cached value travels in: the value and its metadata. Stored
 * as JSON; short field names because there are many entries.
 */
import { CacheError, CacheErrorCodes } from './errors.js';

/**
 * A cached value with when it was computed, under which version, and until when it may be
 * served; `decide` (policy.ts) reads the deadlines against the clock.
 */
export interface Entry<V = unknown> {
  value: V;
  /** When the value was computed, epoch ms. */
  computedAt: number;
  /** `<cacheVersion>/<metricVersion>` it was computed under. */
  version: string;
  /** Until then the value is served as is, epoch ms. */
  freshUntil: number;
  /** Until then the value may be served while one refresh runs; then it is gone. */
  staleUntil: number;
}

interface Wire {
  v: unknown;
  c: number;
  x: string;
  f: number;
  s: number;
}

/** The stored text of an entry: JSON with one-letter field names, read back by `decodeEntry`. */
export function encodeEntry(entry: Entry): string {
  const wire: Wire = { v: entry.value, c: entry.computedAt, x: entry.version, f: entry.freshUntil, s: entry.staleUntil };
  return JSON.stringify(wire);
}

/** @throws CacheError E_ENTRY_CORRUPT when the text is not an envelope. */
export function decodeEntry<V>(text: string): Entry<V> {
  let wire: Partial<Wire>;
  try {
    wire = JSON.parse(text) as Partial<Wire>;
  } catch (cause) {
    throw new CacheError(CacheErrorCodes.E_ENTRY_CORRUPT, 'get', 'cached entry is not JSON', { cause });
  }
  if (
    typeof wire !== 'object' ||
    wire === null ||
    !('v' in wire) ||
    typeof wire.c !== 'number' ||
    typeof wire.x !== 'string' ||
    typeof wire.f !== 'number' ||
    typeof wire.s !== 'number'
  ) {
    throw new CacheError(CacheErrorCodes.E_ENTRY_CORRUPT, 'get', 'cached entry lacks its metadata (v, c, x, f, s)');
  }
  return { value: wire.v as V, computedAt: wire.c, version: wire.x, freshUntil: wire.f, staleUntil: wire.s };
}
