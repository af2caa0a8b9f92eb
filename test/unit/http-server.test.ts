/**
 * The HTTP server's side of a GraphQL answer: a whole JSON answer is taken as the text
 * the Response holds, never through its `body` (on Yoga's Response that getter copies
 * the text into a Buffer and a stream, per request), and an event stream still goes
 * out chunk by chunk through `body`. A request's signal aborts when its client leaves
 * before the answer, and only then (aborting builds a DOMException with a stack).
 */
import { Registry } from 'prom-client';
import { afterEach, expect, it } from 'vitest';
import { createHttpServer, type HttpServer } from '../../src/http/server.js';
import { createLogger } from '../../src/observability/logger.js';

let server: HttpServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A Response whose `body` getter is counted. */
function counted(response: Response): { response: Response; bodyReads: () => number } {
  let reads = 0;
  const body = Object.getOwnPropertyDescriptor(Response.prototype, 'body')!.get!;
  Object.defineProperty(response, 'body', {
    get() {
      reads += 1;
      return body.call(response) as unknown;
    },
  });
  return { response, bodyReads: () => reads };
}

async function serve(answer: (request: Request) => Promise<Response> | Response): Promise<string> {
  server = createHttpServer({
    graphql: answer,
    registry: new Registry(),
    readiness: () => Promise.resolve({}),
    maxBodyBytes: 1024,
    logger: createLogger('silent'),
    shutdownGraceMs: 100,
  });
  const port = await server.listen(0, '127.0.0.1');
  return `http://127.0.0.1:${port}/graphql`;
}

it('writes a whole JSON answer from its text, without reading its body stream', async () => {
  const text = JSON.stringify({ data: { note: 'é'.repeat(100) } });
  const { response, bodyReads } = counted(new Response(text, { headers: { 'content-type': 'application/json' } }));
  const url = await serve(() => response);
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ note }"}' });
  expect(await res.text()).toBe(text);
  expect(Number(res.headers.get('content-length'))).toBe(Buffer.byteLength(text));
  expect(bodyReads()).toBe(0);
});

it('sends an event stream through its body, chunk by chunk', async () => {
  const chunks = ['event: next\ndata: {"n":1}\n\n', 'event: complete\ndata:\n\n'];
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const c of chunks) controller.enqueue(new TextEncoder().encode(c));
      controller.close();
    },
  });
  const { response, bodyReads } = counted(new Response(stream, { headers: { 'content-type': 'text/event-stream' } }));
  const url = await serve(() => response);
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"subscription { x }"}' });
  expect(await res.text()).toBe(chunks.join(''));
  expect(bodyReads()).toBeGreaterThan(0);
});

it("aborts a request's signal when its client leaves before the answer, not after an answer was written", async () => {
  const signals: AbortSignal[] = [];
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const url = await serve(async (request) => {
    signals.push(request.signal);
    // The second request waits: its client leaves meanwhile.
    if (signals.length === 2) await held;
    return new Response('{"data":{}}', { headers: { 'content-type': 'application/json' } });
  });
  const post = (signal?: AbortSignal) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ a }"}', signal });

  expect((await post()).status).toBe(200);
  await expect.poll(() => signals.length).toBe(1);
  const left = new AbortController();
  const pending = post(left.signal).catch(() => 'gone');
  await expect.poll(() => signals.length).toBe(2);
  left.abort();
  expect(await pending).toBe('gone');
  await expect.poll(() => signals[1]!.aborted).toBe(true);
  release();
  // The first answer was written whole: its request was never aborted.
  expect(signals[0]!.aborted).toBe(false);
});
