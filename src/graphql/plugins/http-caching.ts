/**
 * HTTP caching of GET queries: `Cache-Control: private, max-age=N` where N is how
 * long the shortest-lived bucket in the answer stays fresh (the open bucket: seconds;
 * closed ones: hours), `Vary: Authorization` since the answer depends on the token.
 * Everything else (POST, mutations, errors, stale data) is `no-store`. The HTTP
 * server adds the ETag and answers `If-None-Match` with 304.
 */
import { Kind, OperationTypeNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { GraphQLContext } from '../context.js';
import type { ExecutePayload } from './execute-payload.js';

interface Outcome {
  freshUntil: number;
  ok: boolean;
  now: number;
}

/**
 * Sets `Cache-Control` and `Vary` on every GraphQL response (see the top of this file):
 * `private, max-age` for a successful GET query, `no-store` for the rest.
 */
export function httpCachingPlugin(): Plugin<GraphQLContext> {
  // Per request, keyed by the Request itself: nothing is added to the context.
  const outcomes = new WeakMap<Request, Outcome>();
  return {
    onExecute({ args }: ExecutePayload) {
      return {
        onExecuteDone({ result }) {
          const context = args.contextValue as Partial<GraphQLContext> & { request?: Request };
          if (!context.request || !context.metrics || !context.services) return;
          const ok =
            'data' in result &&
            !result.errors?.length &&
            args.document.definitions.every((d) => d.kind !== Kind.OPERATION_DEFINITION || d.operation === OperationTypeNode.QUERY);
          outcomes.set(context.request, { freshUntil: context.metrics.freshUntil(), ok, now: context.services.clock() });
        },
      };
    },
    onResponse({ request, response }) {
      const outcome = outcomes.get(request);
      const cacheable = request.method === 'GET' && response.status === 200 && outcome?.ok && Number.isFinite(outcome.freshUntil);
      if (!cacheable) {
        response.headers.set('cache-control', 'no-store');
        return;
      }
      const maxAge = Math.max(0, Math.floor((outcome.freshUntil - outcome.now) / 1000));
      response.headers.set('cache-control', `private, max-age=${maxAge}`);
      response.headers.set('vary', 'Authorization');
    },
  };
}
