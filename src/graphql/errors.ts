/**
 * The one place where domain errors become GraphQL errors with the contract's
 * `extensions.code`. Anything unexpected is masked, logged, and given a code.
 */
import { GraphQLError } from 'graphql';
import { DomainError, ErrorCodes, type ErrorCode } from '../errors.js';

/** Contract codes, by domain code. */
const GRAPHQL_CODES: Readonly<Record<ErrorCode, { code: string; status?: number }>> = {
  [ErrorCodes.E_INVALID_INPUT]: { code: 'BAD_USER_INPUT' },
  [ErrorCodes.E_UNAUTHENTICATED]: { code: 'UNAUTHENTICATED', status: 401 },
  [ErrorCodes.E_FORBIDDEN]: { code: 'FORBIDDEN' },
  [ErrorCodes.E_UNAVAILABLE]: { code: 'SERVICE_UNAVAILABLE' },
  [ErrorCodes.E_LIMIT_EXCEEDED]: { code: 'QUERY_TOO_COMPLEX' },
};

/** The contract code an error carries or will carry once masked. */
export function codeOf(error: unknown): string {
  const code = (error as { extensions?: { code?: unknown } })?.extensions?.code;
  if (typeof code === 'string') return code;
  const domain = findDomainError(error);
  return domain ? GRAPHQL_CODES[domain.code].code : 'INTERNAL_SERVER_ERROR';
}

/** Code given to query-limit refusals (depth, aliases, tokens, cost). */
export const QUERY_TOO_COMPLEX = 'QUERY_TOO_COMPLEX';

/** A GraphQLError carrying the contract code for `error`. */
export function toGraphQLError(error: DomainError, path?: ReadonlyArray<string | number>): GraphQLError {
  const mapped = GRAPHQL_CODES[error.code];
  return new GraphQLError(error.message, {
    path,
    originalError: error,
    extensions: {
      code: mapped.code,
      ...error.details,
      ...(mapped.status ? { http: { status: mapped.status } } : {}),
    },
  });
}

/**
 * Yoga's `maskError`: domain errors keep their message and get their code; other
 * errors become "Unexpected error." (with the cause in development) and are logged.
 */
export function createMaskError(log: (error: unknown) => void) {
  return (error: unknown, message: string, isDev?: boolean): Error => {
    const domain = findDomainError(error);
    if (domain) return toGraphQLError(domain, pathOf(error));
    if (isGraphQLErrorLike(error) && isFromGraphQL(error)) {
      // Raised by graphql-js itself (validation, variable coercion): meant for the caller.
      return error.extensions?.code
        ? error
        : withCode(error, /^Variable "\$/.test(error.message) ? 'BAD_USER_INPUT' : 'GRAPHQL_VALIDATION_FAILED');
    }
    const located = error as { originalError?: unknown };
    const cause = located.originalError ?? error;
    log(cause);
    return new GraphQLError(message, {
      path: pathOf(error),
      extensions: {
        code: 'INTERNAL_SERVER_ERROR',
        ...(isDev && cause instanceof Error ? { originalError: { message: cause.message } } : {}),
      },
    });
  };
}

// Duck-typed on purpose: executors may raise GraphQLErrors of another copy of graphql-js,
// for which `instanceof` is false.
function isGraphQLErrorLike(error: unknown): error is GraphQLError {
  return error instanceof Error && 'extensions' in error && 'path' in error;
}

/** True when every error in the chain is a GraphQL error: nothing of ours threw. */
function isFromGraphQL(error: GraphQLError): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { originalError?: unknown }).originalError, depth++) {
    if (!isGraphQLErrorLike(e)) return false;
  }
  return true;
}

function withCode(error: GraphQLError, code: string): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: { ...error.extensions, code },
  });
}

function pathOf(error: unknown): ReadonlyArray<string | number> | undefined {
  return isGraphQLErrorLike(error) ? error.path : undefined;
}

/** The DomainError at the root of a chain of wrapped errors, if there is one. */
export function findDomainError(error: unknown): DomainError | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { originalError?: unknown }).originalError, depth++) {
    if (e instanceof DomainError) return e;
  }
  return undefined;
}
