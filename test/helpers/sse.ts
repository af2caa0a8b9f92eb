/** A `metricsInvalidated` subscriber over SSE, collecting what it hears. */
import { expect } from 'vitest';
import { openSse } from './sse-stream.js';

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
  const stream = await openSse(baseUrl, token, metrics);
  expect(stream.status).toBe(200);
  expect(stream.contentType).toMatch(/text\/event-stream/);
  const { events } = stream;
  return {
    events,
    completed: stream.completed,
    until(n, timeoutMs = 5_000) {
      return new Promise((resolve, reject) => {
        let stop = () => {};
        const check = () => {
          if (events.length >= n) {
            clearTimeout(timer);
            stop();
            resolve();
          }
        };
        const timer = setTimeout(() => {
          stop();
          reject(new Error(`heard ${events.length} of ${n} events within ${timeoutMs} ms: ${JSON.stringify(events)}`));
        }, timeoutMs);
        stop = stream.onBlock(check);
        check();
      });
    },
    close: () => stream.close(),
  };
}
