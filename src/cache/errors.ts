/**
 * Errors of the cache core. A store error never reaches a caller of the read-through:
 * it is counted and the source answers instead. These exist so that logs and
 * counters can say exactly what failed.
 */

/** The codes a `CacheError` carries, so that a log line says which failure it was. */
export const CacheErrorCodes = {
  /** The store did not answer, or answered with an error. */
  E_STORE_UNAVAILABLE: 'E_STORE_UNAVAILABLE',
  /** The circuit breaker is open: the store was not even asked. */
  E_CIRCUIT_OPEN: 'E_CIRCUIT_OPEN',
  /** An earlier store command of the same request failed: this one was not sent (request-store.ts). */
  E_REQUEST_SKIPPED: 'E_REQUEST_SKIPPED',
  /** A stored entry could not be decoded; it is treated as a miss. */
  E_ENTRY_CORRUPT: 'E_ENTRY_CORRUPT',
} as const;

/** One of `CacheErrorCodes`. */
export type CacheErrorCode = (typeof CacheErrorCodes)[keyof typeof CacheErrorCodes];

/** Store operations, the label of `cache_errors_total`. A fixed set. */
export type StoreOperation = 'get' | 'set' | 'delete' | 'lock' | 'unlock' | 'scan';

/**
 * A failure of the cache store or of a stored entry: which (`code`), in which store
 * operation, and the underlying error as `cause`. The cache core catches it, counts it
 * (`cache_errors_total` by operation) and answers from the source.
 */
export class CacheError extends Error {
  override name = 'CacheError';
  constructor(
    readonly code: CacheErrorCode,
    readonly operation: StoreOperation,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
