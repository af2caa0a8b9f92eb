/**
 * A span per GraphQL operation, active while it executes, so that the cache's
 * lookups, recomputes and lock waits, and vendor calls, nest under it.
 */
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { getOperationAST, type ExecutionArgs } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { codeOf } from '../errors.js';
import { isTracing } from '../../cache/spans.js';
import type { ExecutePayload } from './execute-payload.js';

/**
 * Wraps execution in a server span named `<type> <name>` with the operation's type and
 * name; its error codes become `graphql.error.codes`, and INTERNAL_SERVER_ERROR (or a
 * throw) marks the span as an error.
 */
export function tracingPlugin(): Plugin {
  const tracer = trace.getTracer('dashboard-api/graphql');
  return {
    onExecute({ executeFn, setExecuteFn }: ExecutePayload) {
      // Tracing off: execution is left as it is (no span, no context switch).
      if (!isTracing()) return;
      setExecuteFn(async (args: ExecutionArgs) => {
        const operation = getOperationAST(args.document, args.operationName ?? undefined);
        const type = operation?.operation ?? 'unknown';
        const name = operation?.name?.value;
        const span = tracer.startSpan(name ? `${type} ${name}` : type, {
          kind: SpanKind.SERVER,
          attributes: { 'graphql.operation.type': type, ...(name ? { 'graphql.operation.name': name } : {}) },
        });
        try {
          const result = await context.with(trace.setSpan(context.active(), span), () => executeFn(args));
          const errors: readonly unknown[] = result.errors ?? [];
          if (errors.length) {
            const codes = [...new Set(errors.map(codeOf))];
            span.setAttribute('graphql.error.codes', codes);
            if (codes.includes('INTERNAL_SERVER_ERROR')) span.setStatus({ code: SpanStatusCode.ERROR });
          }
          return result;
        } catch (error) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message });
          throw error;
        } finally {
          span.end();
        }
      });
    },
  };
}
