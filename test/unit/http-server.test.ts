/**
 * The HTTP server's side of a GraphQL answer, over a small real Yoga: a whole JSON
 * answer is taken as the text the Response holds, never through its `body` (on Yoga's
 * Response that getter copies the text into a Buffer and a stream, per request), and
 * leaves with its header in one write, as a part of its own (Node would otherwise join
 * the two into a new string, a copy of every answer); an
 * event stream goes out chunk by chunk through `body`, and ends when its subscriber
 * vanishes even while its socket is full; the body read here (up to the
 * limit) is the one Yoga sees; and a request's signal aborts when its client leaves
 * before the answer, and only then (aborting builds a DOMException with a stack).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { createSchema, createYoga } from 'graphql-yoga';
import { Registry } from 'prom-client';
import { afterEach, expect, it } from 'vitest';
import { createHttpServer, type HttpServer } from '../../src/http/server.js';
import { createLogger } from '../../src/observability/logger.js';

let server: HttpServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/**
 * What the resolvers saw: each request's signal, a way to hold `slow` until released, and
 * how far the endless `flood` subscription got (values taken, and whether it ended).
 */
const seen = { signals: [] as AbortSignal[], release: () => {}, flood: { sent: 0, ended: false } };

const yoga = createYoga({
  schema: createSchema({
    typeDefs: 'type Query { note: String, slow: String } type Subscription { count: Int, flood: String }',
    resolvers: {
      Query: {
        note: (_: unknown, __: unknown, { request }: { request: Request }) => {
          seen.signals.push(request.signal);
          return 'é'.repeat(100);
        },
        slow: async (_: unknown, __: unknown, { request }: { request: Request }) => {
          seen.signals.push(request.signal);
          await new Promise<void>((resolve) => (seen.release = resolve));
          return 'late';
        },
      },
      Subscription: {
        count: {
          async *subscribe() {
            for (let n = 1; n <= 3; n++) yield { count: n };
          },
        },
        flood: {
          async *subscribe() {
            try {
              for (;;) {
                seen.flood.sent += 1;
                yield { flood: 'x'.repeat(64 * 1024) };
              }
            } finally {
              seen.flood.ended = true;
            }
          },
        },
      },
    },
  }),
  logging: false,
  landingPage: false,
  maxRequestBodySize: false,
});

type Chunk = { chunk: string | Buffer };
type WritableSocket = Socket & {
  _write(chunk: string | Buffer, encoding: string, done: () => void): void;
  _writev(chunks: Chunk[], done: () => void): void;
};

/** Records every write on `socket` from now on, each as the list of its parts. */
function recordWrites(socket: WritableSocket, writes: string[][]): void {
  const write = socket._write;
  const writev = socket._writev;
  socket._write = function (chunk, encoding, done) {
    writes.push([String(chunk)]);
    write.call(this, chunk, encoding, done);
  };
  socket._writev = function (chunks, done) {
    writes.push(chunks.map((c) => String(c.chunk)).filter((part) => part !== ''));
    writev.call(this, chunks, done);
  };
}

/**
 * Starts the server over `yoga`, counting reads of each Response's `body` and recording
 * the socket writes of every answer (from the moment Yoga is called).
 */
async function serve(): Promise<{ url: string; bodyReads: () => number; writes: string[][]; registry: Registry }> {
  let reads = 0;
  const registry = new Registry();
  const writes: string[][] = [];
  const recorded = new WeakSet<Socket>();
  server = createHttpServer({
    async graphql(req: IncomingMessage, res: ServerResponse) {
      if (!recorded.has(res.socket!)) {
        recorded.add(res.socket!);
        recordWrites(res.socket as WritableSocket, writes);
      }
      const response = await yoga.handleNodeRequestAndResponse(req, res, {});
      let body: (() => unknown) | undefined;
      for (let proto: object | null = response; proto && !body; proto = Object.getPrototypeOf(proto) as object | null)
        body = Object.getOwnPropertyDescriptor(proto, 'body')?.get;
      if (body)
        Object.defineProperty(response, 'body', {
          get() {
            reads += 1;
            return body.call(response);
          },
        });
      return response;
    },
    registry,
    readiness: () => Promise.resolve({}),
    maxBodyBytes: 1024,
    logger: createLogger('silent'),
    shutdownGraceMs: 100,
  });
  const port = await server.listen(0, '127.0.0.1');
  return { url: `http://127.0.0.1:${port}/graphql`, bodyReads: () => reads, writes, registry };
}

const post = (url: string, query: string, init: { headers?: Record<string, string>; signal?: AbortSignal } = {}) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...init.headers },
    body: JSON.stringify({ query }),
    signal: init.signal,
  });

it('writes a whole JSON answer from its text, without reading its body stream', async () => {
  const { url, bodyReads } = await serve();
  const res = await post(url, '{ note }');
  const text = await res.text();
  expect(JSON.parse(text)).toEqual({ data: { note: 'é'.repeat(100) } });
  expect(Number(res.headers.get('content-length'))).toBe(Buffer.byteLength(text));
  expect(bodyReads()).toBe(0);
});

it('writes the header and a JSON answer in one write, the answer as a part of its own, not joined into a copy', async () => {
  const { url, writes } = await serve();
  const text = await (await post(url, '{ note }')).text();
  expect(writes).toHaveLength(1);
  const [head, ...rest] = writes[0]!;
  expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n$/);
  expect(rest).toEqual([text]);
});

it('sends an event stream through its body, chunk by chunk', async () => {
  const { url, bodyReads } = await serve();
  const res = await post(url, 'subscription { count }', { headers: { accept: 'text/event-stream' } });
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const text = await res.text();
  expect([...text.matchAll(/"count":(\d)/g)].map((m) => Number(m[1]))).toEqual([1, 2, 3]);
  expect(bodyReads()).toBeGreaterThan(0);
});

it('ends the stream of a subscriber that stopped reading and then vanished, instead of waiting for its socket to drain', async () => {
  const { url, registry } = await serve();
  const inFlight = async () =>
    (await registry.getSingleMetric('http_requests_in_flight')!.get()).values.find((v) => v.labels.route === 'graphql')?.value;
  const { port } = new URL(url);
  const body = JSON.stringify({ query: 'subscription { flood }' });
  const socket = connect(Number(port), '127.0.0.1');
  await once(socket, 'connect');
  socket.pause();
  socket.write(
    `POST /graphql HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\naccept: text/event-stream\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
  );
  // Unread, the socket fills: the server stops taking values from the subscription.
  let sent = -1;
  await expect
    .poll(
      async () => {
        const before = sent;
        sent = seen.flood.sent;
        await new Promise((resolve) => setTimeout(resolve, 100));
        return sent > 16 && seen.flood.sent === before;
      },
      { timeout: 10_000, interval: 50 },
    )
    .toBe(true);
  expect(await inFlight()).toBe(1);
  socket.destroy();
  await expect.poll(inFlight, { timeout: 5_000 }).toBe(0);
  await expect.poll(() => seen.flood.ended).toBe(true);
});

it('hands Yoga the body it read, and refuses one over the limit before Yoga sees it', async () => {
  const { url } = await serve();
  const padded = `{ note }${' '.repeat(500)}`;
  expect((await (await post(url, padded)).json()).data.note).toHaveLength(100);
  const before = seen.signals.length;
  const res = await post(url, `{ note }${' '.repeat(2000)}`);
  expect(res.status).toBe(413);
  expect((await res.json()).errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
  expect(seen.signals.length).toBe(before);
});

it("aborts a request's signal when its client leaves before the answer, not after an answer was written", async () => {
  const { url } = await serve();
  seen.signals.length = 0;
  expect((await post(url, '{ note }')).status).toBe(200);
  const left = new AbortController();
  const pending = post(url, '{ slow }', { signal: left.signal }).catch(() => 'gone');
  await expect.poll(() => seen.signals.length).toBe(2);
  left.abort();
  expect(await pending).toBe('gone');
  await expect.poll(() => seen.signals[1]!.aborted).toBe(true);
  seen.release();
  // The first answer was written whole: its request was never aborted.
  expect(seen.signals[0]!.aborted).toBe(false);
});
