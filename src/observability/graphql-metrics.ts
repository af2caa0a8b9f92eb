/**
 * GraphQL request duration and errors by operation. Operation names come from
 * clients, so they are bounded: names that do not look like identifiers, and any
 * beyond the first `maxNames` seen, count as `other`.
 */
import { Counter, Histogram, type Registry } from 'prom-client';

/** What the request-metrics plugin reports per executed GraphQL operation. */
export interface GraphQLMetrics {
  /** One executed operation: its type, its name (or undefined), how long, and its error codes. */
  observe(operationType: string, operationName: string | undefined, durationMs: number, errorCodes: readonly string[]): void;
}

/**
 * Registers `graphql_request_duration_seconds` and `graphql_errors_total` in `registry`.
 * Operation labels are bounded by `maxNames` (default 50) distinct names; error codes
 * outside the contract's count as `OTHER`.
 */
export function createGraphQLMetrics(registry: Registry, maxNames = 50): GraphQLMetrics {
  const duration = new Histogram({
    name: 'graphql_request_duration_seconds',
    help: 'GraphQL operation execution time by operation type and name',
    labelNames: ['operation_type', 'operation'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const errors = new Counter({
    name: 'graphql_errors_total',
    help: 'GraphQL errors by operation and code',
    labelNames: ['operation_type', 'operation', 'code'] as const,
    registers: [registry],
  });
  const seen = new Set<string>();
  const label = (name: string | undefined) => {
    if (!name) return 'anonymous';
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name)) return 'other';
    if (seen.has(name)) return name;
    if (seen.size >= maxNames) return 'other';
    seen.add(name);
    return name;
  };
  const KNOWN_CODES = new Set([
    'BAD_USER_INPUT',
    'UNAUTHENTICATED',
    'FORBIDDEN',
    'SERVICE_UNAVAILABLE',
    'QUERY_TOO_COMPLEX',
    'GRAPHQL_VALIDATION_FAILED',
    'INTERNAL_SERVER_ERROR',
  ]);
  return {
    observe(operationType, operationName, durationMs, errorCodes) {
      const labels = { operation_type: operationType, operation: label(operationName) };
      duration.observe(labels, durationMs / 1000);
      for (const code of errorCodes) errors.inc({ ...labels, code: KNOWN_CODES.has(code) ? code : 'OTHER' });
    },
  };
}
