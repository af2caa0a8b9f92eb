/** A `metricsInvalidated` subscriber over SSE, collecting what it hears. */
import { expect } from 'vitest';

/** A subscription over SSE and what it has heard so far. */
export interface SseSubscriber {
  /** Payloads received (`data` of each `next` event). */
  events: any[];
  /** Resolves when the server completes the stream. */
  completed: Promise<void>;
  /** Resolves once `events.length >= n`, rejects after `timeoutMs`. @default timeoutMs 5000 */
  until(n: number, timeoutMs?: number): Promise<void>;
  /** Aborts the request, which ends the subscription on the server. */
  close(): void;
}

/**
 * Subscribes to `metricsInvalidated` (optionally only `metrics`) over SSE at
 * `baseUrl`/graphql with `token`, and collects each payload. Asserts (vitest `expect`)
 * that the server answered 200 with an event stream.
 */
export async function subscribeSse(baseUrl: string, token: string, metrics?: string[]): Promise<SseSubscriber> {
  const abort = new AbortController();
  const response = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    signal: abort.signal,
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      query: `subscription($m: [MetricName!]) { metricsInvalidated(metrics: $m) { metrics from to reason at } }`,
      variables: { m: metrics },
    }),
  });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
  const events: any[] = [];
  const waiters = new Set<() => void>();
  let markComplete!: () => void;
  const completed = new Promise<void>((resolve) => (markComplete = resolve));
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split('\n').find((l) => l.startsWith('data:'));
          if (block.includes('event: next') && data) events.push(JSON.parse(data.slice(5)).data.metricsInvalidated);
          if (block.includes('event: complete')) markComplete();
          for (const w of waiters) w();
        }
      }
    } catch {
      // aborted by close()
    }
    markComplete();
  })();
  return {
    events,
    completed,
    until(n, timeoutMs = 5_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (events.length >= n) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`heard ${events.length} of ${n} events within ${timeoutMs} ms: ${JSON.stringify(events)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () => abort.abort(),
  };
}
