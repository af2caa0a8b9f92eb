/**
 * Live updates: `metricsInvalidated` over graphql-ws, with the token in
 * connectionParams. A connection that is re-established reloads everything, since
 * notices sent while it was down are lost (a lost notice costs a refetch, never
 * stale data, so the reload is what makes up for it).
 */
import { print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { PageInvalidationsDocument, type PageInvalidationsSubscription } from './gql/graphql.js';

/** A notice as the page receives it. */
export type Notice = PageInvalidationsSubscription['metricsInvalidated'];

/** Why live updates stopped. */
export type StopReason = 'expired' | 'refused' | 'lost';

/** What the page hears from the live connection. */
export interface LiveHandlers {
  notice(notice: Notice): void;
  /** The connection is up; `again` when it came back after a loss. */
  connected(again: boolean): void;
  /** Connecting, or reconnecting after a loss. */
  connecting(): void;
  /** It ended for good: the token expired or was refused, or reconnecting failed. */
  stopped(reason: StopReason): void;
}

/** An open live connection. */
export interface Live {
  close(): void;
}

/** The close code our server uses for a connection without a valid token (src/graphql/websocket.ts). */
const TOKEN_REFUSED = 4403;

/** Subscribes to every metric of the token's tenant at `origin`'s /graphql. */
export function connectLive(origin: string, token: string, expiresAt: number | undefined, handlers: LiveHandlers): Live {
  const url = new URL('/graphql', origin);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  let closed = false;
  const expired = () => expiresAt !== undefined && Date.now() >= expiresAt - 1_000;
  const client: Client = createClient({
    url: url.href,
    connectionParams: { authorization: `Bearer ${token}` },
    lazy: false,
    retryAttempts: 20,
    // A refused token stays refused: trying again would only be refused again.
    shouldRetry: (event) => !(event instanceof CloseEvent && event.code === TOKEN_REFUSED) && !expired(),
    on: {
      connecting: () => handlers.connecting(),
      connected: (_socket, _payload, wasRetry) => handlers.connected(wasRetry),
    },
  });
  const stop = (reason: StopReason) => {
    if (closed) return;
    closed = true;
    handlers.stopped(reason);
    void client.dispose();
  };
  client.subscribe<PageInvalidationsSubscription>(
    { query: print(PageInvalidationsDocument) },
    {
      next: (result) => {
        if (result.data) handlers.notice(result.data.metricsInvalidated);
      },
      error: (error) => {
        const refused = error instanceof CloseEvent && error.code === TOKEN_REFUSED;
        stop(refused ? (expired() ? 'expired' : 'refused') : expired() ? 'expired' : 'lost');
      },
      // The server ends a subscription when its token expires.
      complete: () => stop(expired() ? 'expired' : 'lost'),
    },
  );
  return {
    close() {
      closed = true;
      void client.dispose();
    },
  };
}
