/** Feeds GraphQL request metrics: duration and error codes per executed operation. */
import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { GraphQLMetrics } from '../../observability/graphql-metrics.js';
import { codeOf } from '../errors.js';
import type { ExecutePayload } from './execute-payload.js';

/** Observes each executed operation on `metrics`: its type, name, duration and error codes. */
export function requestMetricsPlugin(metrics: GraphQLMetrics): Plugin {
  return {
    onExecute({ args }: ExecutePayload) {
      const started = performance.now();
      const operation = getOperationAST(args.document, args.operationName ?? undefined);
      return {
        onExecuteDone({ result }) {
          const errors = 'errors' in result && result.errors ? result.errors : [];
          const codes = errors.map(codeOf);
          metrics.observe(operation?.operation ?? 'unknown', operation?.name?.value, performance.now() - started, codes);
        },
      };
    },
  };
}
