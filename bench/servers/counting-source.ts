/**
 * Counts the queries a bench server sends to the source, for the servers whose
 * source queries the app's own `cache_source_queries_total` does not see (the
 * whole-response cache over the uncached resolvers, and the `limit` server, whose
 * only queries compute its constants). Every AggregateSource call is one query.
 * Exported on the server's /metrics as `bench_source_queries_total{call}`.
 */
import { Counter, type Registry } from 'prom-client';
import type { AggregateSource } from '../../src/source/aggregates.js';

export const BENCH_SOURCE_QUERIES = 'bench_source_queries_total';

export function countingSource(source: AggregateSource, registry: Registry): AggregateSource {
  const queries = new Counter({
    name: BENCH_SOURCE_QUERIES,
    help: 'Queries sent to the source (bench wrapper; one per AggregateSource call)',
    labelNames: ['call'] as const,
    registers: [registry],
  });
  return {
    valuesPerBucket: (...args) => (queries.inc({ call: 'valuesPerBucket' }), source.valuesPerBucket(...args)),
    membersPerBucket: (...args) => (queries.inc({ call: 'membersPerBucket' }), source.membersPerBucket(...args)),
    distinctMembers: (...args) => (queries.inc({ call: 'distinctMembers' }), source.distinctMembers(...args)),
    groupsPerBucket: (...args) => (queries.inc({ call: 'groupsPerBucket' }), source.groupsPerBucket(...args)),
    labels: (...args) => (queries.inc({ call: 'labels' }), source.labels(...args)),
  };
}
