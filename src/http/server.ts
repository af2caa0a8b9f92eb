/**
 * The HTTP server: GraphQL at /graphql (through Yoga's fetch API, after a body
 * size check), health at /healthz and /readyz, Prometheus text at /metrics, the
 * live page's routes (src/web/) for the rest, and a graceful close that finishes
 * in-flight requests.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { createHttpInstruments, type Route } from '../observability/http-metrics.js';
import type { Logger } from '../observability/logger.js';

/** A dependency as /readyz reports it. */
export interface DependencyState {
  status: 'up' | 'down' | 'degraded';
  /** What it is, e.g. `sqlite`, `postgres`, `memory`, `redis`. */
  kind: string;
  /** Whether the service can serve without it. */
  required: boolean;
}

/** What the HTTP server serves and checks; only /graphql reaches yoga. */
export interface HttpServerOptions {
  /**
   * Handles a GraphQL request given as Node's request, its body already read into
   * `req.body` (a Buffer; none for GET and HEAD) and its `x-request-id` header set, and
   * Node's response, which it leaves to the caller to write (Yoga's
   * `handleNodeRequestAndResponse`). The request's signal is its own business: Yoga's
   * aborts when the connection closes before the answer is written.
   */
  graphql: (req: IncomingMessage, res: ServerResponse) => Promise<Response> | Response;
  /** Served at /metrics; the server's own HTTP metrics are registered in it too. */
  registry: Registry;
  /** Checks each dependency for /readyz. */
  readiness: () => Promise<Record<string, DependencyState>>;
  /** Largest request body accepted, in bytes; a larger one is answered 413 PAYLOAD_TOO_LARGE before GraphQL sees it. */
  maxBodyBytes: number;
  /** Where a request that fails outside GraphQL is logged. */
  logger: Logger;
  /** How long `close` waits for in-flight requests before cutting them. @default 10000 */
  shutdownGraceMs?: number;
  /**
   * Called by `close` once nothing new is accepted, before in-flight requests are waited
   * for: ends what never finishes by itself (subscriptions), so that its clients see it
   * complete. Event streams still open at the end of the grace are cut. @default none
   */
  onStop?: (() => Promise<void> | void) | undefined;
  /**
   * Every other path: the live page (src/web/routes.ts). Resolves true when it answered;
   * false leaves the request to the 404. @default none
   */
  routes?: ((req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>) | undefined;
}

/** The HTTP server and its lifecycle; nothing listens until `listen`. */
export interface HttpServer {
  readonly server: Server;
  /** Resolves with the bound port. */
  listen(port: number, host?: string): Promise<number>;
  /**
   * Stops accepting at once (new connections are refused), calls `onStop`, waits for
   * in-flight requests (up to the grace), then cuts what is left and closes. Once only:
   * a second call resolves with the first.
   */
  close(): Promise<void>;
}

/**
 * The server, not yet listening. Every GraphQL request gets an `x-request-id` (the
 * caller's when it is 1 to 64 characters of `[A-Za-z0-9_.:-]`), and a cacheable GET
 * answer an ETag of its body, with 304 for a matching If-None-Match.
 */
export function createHttpServer(options: HttpServerOptions): HttpServer {
  const { logger, maxBodyBytes } = options;
  const graceMs = options.shutdownGraceMs ?? 10_000;
  const inFlight = new Set<Promise<void>>();
  /** Cuts an open event stream short (at the end of the shutdown grace). */
  const streams = new Set<() => void>();
  let closing = false;
  let closed: Promise<void> | undefined;

  const instruments = createHttpInstruments(options.registry);
  const ROUTES: Record<string, Route> = { '/graphql': 'graphql', '/healthz': 'healthz', '/readyz': 'readyz', '/metrics': 'metrics' };

  const server = createServer((req, res) => {
    const route = ROUTES[new URL(req.url ?? '/', 'http://localhost').pathname] ?? 'other';
    instruments.inFlight.inc({ route });
    const done = handle(req, res).catch((error) => {
      if (clientWentAway(req, res, error)) {
        // Not a server failure: nobody is there to answer. One short line, at debug: under
        // load, clients that give up would otherwise flood the error log with stacks.
        const requestId = res.getHeader('x-request-id');
        logger.debug(
          { route, method: req.method, reqId: typeof requestId === 'string' ? requestId : undefined },
          'client closed the connection before the answer',
        );
        return;
      }
      logger.error({ err: error, url: req.url }, 'request failed');
      if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'Internal server error' }] });
      else res.destroy();
    });
    inFlight.add(done);
    void done.finally(() => {
      inFlight.delete(done);
      instruments.inFlight.dec({ route });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (closing) res.setHeader('connection', 'close');
    switch (url.pathname) {
      case '/healthz':
        return sendJson(res, 200, { status: 'ok' });
      case '/readyz': {
        const dependencies = await options.readiness();
        const states = Object.values(dependencies);
        const down = states.some((d) => d.required && d.status !== 'up');
        const degraded = states.some((d) => d.status !== 'up');
        const status = closing ? 'closing' : down ? 'down' : degraded ? 'degraded' : 'ok';
        return sendJson(res, closing || down ? 503 : 200, { status, dependencies });
      }
      case '/metrics': {
        res.writeHead(200, { 'content-type': options.registry.contentType });
        res.end(await options.registry.metrics());
        return;
      }
      case '/graphql':
        return graphql(req, res);
      default:
        if (options.routes && (await options.routes(req, res, url))) return;
        return sendJson(res, 404, { error: `Nothing at ${url.pathname}. GraphQL is at /graphql, the live page at /.` });
    }
  }

  async function graphql(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    let body: Buffer | undefined;
    if (method !== 'GET' && method !== 'HEAD') {
      const read = await readBody(req, maxBodyBytes);
      if (read === 'too-large') {
        return sendJson(res, 413, {
          errors: [
            {
              message: `Request body is larger than ${maxBodyBytes} bytes. Send a smaller query, or use variables and persisted queries.`,
              extensions: { code: 'PAYLOAD_TOO_LARGE', limit: maxBodyBytes },
            },
          ],
        });
      }
      body = read;
    }
    // Every request has an id, the caller's when it sends a sane one: logs carry it and
    // the response gives it back.
    const given = req.headers['x-request-id'];
    const requestId = typeof given === 'string' && /^[\w.:-]{1,64}$/.test(given) ? given : randomUUID();
    req.headers['x-request-id'] = requestId;
    res.setHeader('x-request-id', requestId);
    // The body read here goes where Yoga's Node adapter looks for one already read (why the
    // adapter and not a Request built here: src/compose/server.ts).
    (req as IncomingMessage & { body?: Buffer }).body = body;
    // A client that leaves before its answer is not waited for (the execution ends on its
    // own, its request's signal aborted): the leaving is logged once, at debug (below).
    const response = await Promise.race([options.graphql(req, res), clientLeft(res)]);

    const outHeaders: Record<string, string | string[]> = {};
    response.headers.forEach((value, name) => {
      outHeaders[name] = name === 'set-cookie' ? response.headers.getSetCookie() : value;
    });
    // A cacheable GET answer gets an ETag of its body, and a matching If-None-Match a 304.
    if (
      method === 'GET' &&
      response.status === 200 &&
      !response.headers.has('etag') &&
      /max-age=/.test(response.headers.get('cache-control') ?? '')
    ) {
      const body = Buffer.from(await response.arrayBuffer());
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
      outHeaders.etag = etag;
      if (ifNoneMatch(req.headers['if-none-match'], etag)) {
        delete outHeaders['content-length'];
        delete outHeaders['content-type'];
        res.writeHead(304, outHeaders);
        return void res.end();
      }
      outHeaders['content-length'] = String(body.length);
      res.writeHead(200, outHeaders);
      return void res.end(body);
    }
    const contentType = response.headers.get('content-type') ?? '';
    // A whole answer (JSON) is written in one piece, as the text Yoga's Response holds,
    // without looking at `response.body`: on Yoga's Response that getter copies the text
    // into a Buffer and wraps it in a stream. So a warm hit allocates next to nothing
    // outside the heap — external memory is what made V8 collect every few dozen
    // milliseconds under load. Event streams and incremental delivery (multipart) go out
    // chunk by chunk as they come.
    if (method !== 'HEAD' && /json/.test(contentType) && !/multipart/.test(contentType)) {
      const text = await response.text();
      outHeaders['content-length'] = String(Buffer.byteLength(text));
      res.writeHead(response.status, outHeaders);
      // Given a string, `end` would join the header and the answer into one string and
      // flatten it: a copy of every answer in the heap. Corked, the header and the answer
      // leave as two parts of one write, copied only into the socket's buffer.
      const socket = res.socket;
      socket?.cork();
      res.flushHeaders();
      res.end(text);
      socket?.uncork();
      return;
    }
    res.writeHead(response.status, outHeaders);
    if (!response.body || method === 'HEAD') return void res.end();

    const streaming = contentType.includes('text/event-stream');
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let cutShort = false;
    const cut = () => {
      cutShort = true;
      reader.cancel().catch(() => undefined);
    };
    if (streaming) {
      res.flushHeaders();
      streams.add(cut);
    }
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        // A subscriber that stops reading fills its socket; one that then vanishes
        // closes it, and ends this loop (and its subscription) instead of a wait for
        // a drain that never comes.
        if (!res.write(value) && !(await drained(res))) {
          cut();
          break;
        }
      }
    } catch (error) {
      // Cut at shutdown, or the client left (Yoga's signal ended the stream): not a failure.
      if (!cutShort && !res.destroyed) throw error;
    } finally {
      streams.delete(cut);
      res.end();
    }
  }

  return {
    server,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const address = server.address();
          resolve(typeof address === 'object' && address ? address.port : port);
        });
      });
    },
    close() {
      closed ??= (async () => {
        closing = true;
        const deadline = Date.now() + graceMs;
        // The listening socket closes now: a new connection is refused, not queued behind the drain.
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        let timer: NodeJS.Timeout | undefined;
        const graceOver = new Promise((resolve) => (timer = setTimeout(resolve, graceMs)));
        try {
          await Promise.race([options.onStop?.(), graceOver]);
        } catch (error) {
          logger.warn({ err: error }, 'ending subscriptions failed; their streams are cut');
        }
        // Subscriptions ended by `onStop` finish their streams themselves, like any request.
        while (inFlight.size > 0 && Date.now() < deadline) await Promise.race([Promise.allSettled([...inFlight]), graceOver]);
        clearTimeout(timer);
        // The grace is over: event streams still open are ended, other requests cut.
        for (const cut of streams) cut();
        server.closeAllConnections();
        await stopped;
      })();
      return closed;
    },
  };
}

/** Resolves true when `res` takes writes again, false when it closed first. */
function drained(res: ServerResponse): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const settle = (writable: boolean) => () => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(writable);
    };
    const onDrain = settle(true);
    const onClose = settle(false);
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

/** Rejects with an AbortError when `res` closes before its answer was written; never settles otherwise. */
function clientLeft(res: ServerResponse): Promise<never> {
  return new Promise<never>((_, reject) => {
    res.once('close', () => {
      if (!res.writableFinished)
        reject(Object.assign(new Error('the client closed the connection before the answer'), { name: 'AbortError' }));
    });
  });
}

/**
 * True when `error` is the client's leaving, not a failure of ours: the connection is
 * gone and the error is what that causes (the request's signal aborted, the body cut
 * off). An error of ours that happens to come after the client left still logs as one.
 */
function clientWentAway(req: IncomingMessage, res: ServerResponse, error: unknown): boolean {
  if (!(res.destroyed || req.socket.destroyed)) return false;
  const { name, code, message } = (error ?? {}) as { name?: unknown; code?: unknown; message?: unknown };
  return name === 'AbortError' || code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || message === 'aborted';
}

/** True when an If-None-Match header names `etag` (or is `*`). */
function ifNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t === etag || t === `W/${etag}`;
  });
}

/** The whole body, or 'too-large' as soon as it passes `limit` bytes. */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return 'too-large';
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      req.resume();
      return 'too-large';
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
