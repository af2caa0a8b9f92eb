/**
 * Subscriptions over WebSocket (graphql-ws protocol) at /graphql, next to SSE. The
 * token comes in connectionParams `{ authorization: "Bearer <JWT>" }`; a connection
 * without a valid one is closed with 4403 before any operation runs. Each operation
 * then goes through the same yoga pipeline (context, plugins, limits) as HTTP.
 */
import type { Server } from 'node:http';
import type { GraphQLSchema, parse, subscribe, validate } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { verifyAuthorization } from '../auth/identity.js';
import type { ExecuteFn } from './plugins/execute-payload.js';
import type { DashboardYoga } from './yoga.js';

/** The graphql-ws endpoint attached to the HTTP server. */
export interface WebSocketEndpoint {
  /**
   * Stops accepting sockets and closes every one with 1001 (going away), after the
   * `complete` of any subscription ended just before (the hub's `endAll`); a socket whose
   * client does not answer the close within `CLOSE_WAIT_MS` is cut.
   */
  close(): Promise<void>;
}

/** How long a socket closed by the server may take to finish the close handshake before it is cut. */
const CLOSE_WAIT_MS = 1_000;

/**
 * What `yoga.getEnveloped` returns for one operation, with graphql-js's types: envelop
 * declares these over `any` (it runs over any engine), and yoga's engine is graphql-js.
 * envelop's return type is assignable to this, so no cast is needed.
 */
interface Enveloped {
  schema: GraphQLSchema;
  parse: typeof parse;
  validate: typeof validate;
  execute: ExecuteFn;
  subscribe: typeof subscribe;
  contextFactory: () => unknown;
}

/** The enveloped functions of one operation, carried to `execute`/`subscribe` in `rootValue`. */
type OperationRoot = Pick<Enveloped, 'execute' | 'subscribe'>;

/**
 * Serves graphql-ws on `server` at yoga's endpoint: a connection needs a valid token in
 * `connectionParams.authorization` (else it is closed with 4403), and each operation runs
 * through yoga's pipeline as an HTTP request would.
 */
export function attachWebSocket(server: Server, yoga: DashboardYoga, secret: Uint8Array): WebSocketEndpoint {
  const wss = new WebSocketServer({ server, path: yoga.graphqlEndpoint });
  const disposable = useServer(
    {
      execute: (args) => (args.rootValue as OperationRoot).execute(args),
      subscribe: (args) => (args.rootValue as OperationRoot).subscribe(args),
      async onConnect(ctx) {
        const authorization = (ctx.connectionParams as { authorization?: unknown } | undefined)?.authorization;
        try {
          await verifyAuthorization(typeof authorization === 'string' ? authorization : undefined, secret);
          return true;
        } catch {
          return false;
        }
      },
      async onSubscribe(ctx, _id, params) {
        const enveloped: Enveloped = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
        });
        const { schema, execute, subscribe, contextFactory, parse, validate } = enveloped;
        const document = parse(params.query);
        const errors = validate(schema, document);
        if (errors.length) return errors;
        return {
          schema,
          document,
          operationName: params.operationName,
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe } satisfies OperationRoot,
        };
      },
    },
    wss,
  );
  return {
    async close() {
      // A subscription just ended sends its `complete` from a promise continuation: let
      // those go out before the close frames.
      await new Promise((resolve) => setImmediate(resolve));
      const sockets = [...wss.clients];
      // Sends close(1001, 'Going away') to each; resolves once every socket has closed.
      const disposed = disposable.dispose();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([disposed, new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)))]);
      clearTimeout(timer);
      for (const socket of sockets) socket.terminate();
      await disposed;
    },
  };
}
