/**
 * A `metricsInvalidated` subscription over SSE, read without any test framework, so
 * that the soak (bench/soak.ts) listens exactly as the tests do (test/helpers/sse.ts).
 */

/** One open SSE subscription and what it has heard so far. */
export interface SseStream {
  /** HTTP status of the subscription request. */
  status: number;
  /** Its content type (`text/event-stream` when the server took it). */
  contentType: string | null;
  /** Payloads received (`data.metricsInvalidated` of each `next` event), in arrival order. */
  events: any[];
  /** Resolves when the server completes the stream or the connection ends. */
  completed: Promise<void>;
  /** Calls `listener` after every block read; returns a function that stops it. */
  onBlock(listener: () => void): () => void;
  /** Aborts the request, which ends the subscription on the server. */
  close(): void;
}

/** The subscription document both the tests and the soak send. */
export const SUBSCRIPTION_DOCUMENT = `subscription($m: [MetricName!]) { metricsInvalidated(metrics: $m) { metrics from to reason at } }`;

/**
 * Subscribes to `metricsInvalidated` (optionally only `metrics`) at `baseUrl`/graphql
 * with `token`, and collects each payload as it arrives.
 */
export async function openSse(baseUrl: string, token: string, metrics?: string[]): Promise<SseStream> {
  const abort = new AbortController();
  const response = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    signal: abort.signal,
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: SUBSCRIPTION_DOCUMENT, variables: { m: metrics } }),
  });
  const events: any[] = [];
  const listeners = new Set<() => void>();
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
          for (const listener of listeners) listener();
        }
      }
    } catch {
      // aborted by close(), or the server went away: `completed` tells either way
    }
    markComplete();
  })();
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    events,
    completed,
    onBlock(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: () => abort.abort(),
  };
}
