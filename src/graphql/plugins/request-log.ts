/**
 * One structured log line per executed operation, on the request's logger (request
 * id, tenant, role): its type and name, how long it took, and its error codes. Never
 * the query text or variables (they may hold anything), never the token.
 */
import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { GraphQLContext } from '../context.js';
import { codeOf } from '../errors.js';
import type { ExecutePayload } from './execute-payload.js';

/**
 * Logs each executed operation on the request's logger: at `error` when one of its errors
 * is INTERNAL_SERVER_ERROR, else at `info`. An operation without our context (no logger)
 * is not logged.
 */
export function requestLogPlugin(): Plugin<GraphQLContext> {
  return {
    onExecute({ args }: ExecutePayload) {
      const started = performance.now();
      const log = (args.contextValue as Partial<GraphQLContext>).log;
      if (!log) return;
      const operation = getOperationAST(args.document, args.operationName ?? undefined);
      return {
        onExecuteDone({ result }) {
          const errors = 'errors' in result && result.errors ? result.errors.map(codeOf) : [];
          log[errors.includes('INTERNAL_SERVER_ERROR') ? 'error' : 'info'](
            {
              operation: operation?.name?.value ?? null,
              type: operation?.operation ?? 'unknown',
              durationMs: Math.round(performance.now() - started),
              errors: errors.length ? errors : undefined,
            },
            'graphql operation',
          );
        },
      };
    },
  };
}
