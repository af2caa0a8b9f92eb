/**
 * The one catalogue of domain errors. Each has a stable code, context fields and
 * an optional `cause`. Messages say what was expected, what came, and what to do.
 * Only graphql/ turns these into GraphQL `extensions.code`.
 */

/** Every code a domain error can carry. */
export const ErrorCodes = {
  /** Input a caller sent cannot be used as it is. */
  E_INVALID_INPUT: 'E_INVALID_INPUT',
  /** No valid identity: the token is missing, malformed, badly signed or expired. */
  E_UNAUTHENTICATED: 'E_UNAUTHENTICATED',
  /** The identity is valid but its role may not do this. */
  E_FORBIDDEN: 'E_FORBIDDEN',
  /** A dependency we cannot do without did not answer. */
  E_UNAVAILABLE: 'E_UNAVAILABLE',
  /** The request is larger or costlier than the configured limits allow. */
  E_LIMIT_EXCEEDED: 'E_LIMIT_EXCEEDED',
} as const;

/** One of `ErrorCodes`; graphql/errors.ts maps each to the contract's `extensions.code`. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Base of every error this service raises on purpose. */
export class DomainError extends Error {
  override name = 'DomainError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Machine-readable details, safe to show to the caller. */
    readonly details: Readonly<Record<string, unknown>> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Input refused; `field` names the offending input path, e.g. `input.amount`. */
export function invalidInput(field: string, message: string, details: Record<string, unknown> = {}): DomainError {
  return new DomainError(ErrorCodes.E_INVALID_INPUT, message, { field, ...details });
}

/** The caller's role may not do this (GraphQL `FORBIDDEN`); `details` are shown to the caller. */
export function forbidden(message: string, details: Record<string, unknown> = {}): DomainError {
  return new DomainError(ErrorCodes.E_FORBIDDEN, message, details);
}

/** No usable token (GraphQL `UNAUTHENTICATED`, HTTP 401); `cause` is the verifier's error, for the log. */
export function unauthenticated(message: string, cause?: unknown): DomainError {
  return new DomainError(ErrorCodes.E_UNAUTHENTICATED, message, {}, { cause });
}

/** A dependency we cannot answer without is down (GraphQL `SERVICE_UNAVAILABLE`). */
export function unavailable(message: string, details: Record<string, unknown> = {}, cause?: unknown): DomainError {
  return new DomainError(ErrorCodes.E_UNAVAILABLE, message, details, { cause });
}

/** The request exceeds a configured limit (GraphQL `QUERY_TOO_COMPLEX`); `details` say which and by how much. */
export function limitExceeded(message: string, details: Record<string, unknown> = {}): DomainError {
  return new DomainError(ErrorCodes.E_LIMIT_EXCEEDED, message, details);
}
