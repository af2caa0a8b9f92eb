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
    const graphQLError = error instanceof GraphQLError ? error : undefined;
    const original = graphQLError?.originalError ?? error;
    if (original instanceof DomainError) return toGraphQLError(original, graphQLError?.path);
    if (original instanceof GraphQLError && original.extensions?.code) return original;
    if (graphQLError && !graphQLError.originalError) {
      // Raised by graphql-js itself (validation, coercion): meant for the caller.
      return graphQLError;
    }
    log(original);
    return new GraphQLError(message, {
      path: graphQLError?.path,
      nodes: graphQLError?.nodes,
      extensions: {
        code: 'INTERNAL_SERVER_ERROR',
        ...(isDev && original instanceof Error ? { originalError: { message: original.message } } : {}),
      },
    });
  };
}
