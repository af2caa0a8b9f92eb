/**
 * `metricsInvalidated` over SSE, in-process delivery (the embedded default): the
 * caller's tenant only, its region scope, the metrics it asked for.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ seed: { days: 1, scale: 0.01 } });
});
afterAll(async () => {
  await t?.close();
});

/** Opens an SSE subscription and collects the payloads it receives. */
async function subscribe(token: string, metrics?: string[]) {
  const abort = new AbortController();
  const response = await fetch(`${t.url}/graphql`, {
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
  const waiters: Array<() => void> = [];
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
          if (block.includes('event: next') && data) {
            events.push(JSON.parse(data.slice(5)));
            waiters.splice(0).forEach((w) => w());
          }
        }
      }
    } catch {
      // aborted
    }
  })();
  return {
    events,
    next: () => new Promise<void>((resolve) => waiters.push(resolve)),
    close: () => abort.abort(),
  };
}

describe('metricsInvalidated over SSE', () => {
  it('tells the tenant which metrics changed; other tenants, other regions and unasked metrics hear nothing', async () => {
    const acme = await subscribe(await t.token({ tenant: 'acme', role: 'VIEWER' }));
    const acmeSessions = await subscribe(await t.token({ tenant: 'acme' }), ['SESSIONS']);
    const acmeApac = await subscribe(await t.token({ tenant: 'acme', region: 'APAC' }));
    const globex = await subscribe(await t.token({ tenant: 'globex' }));
    const lookalike = await subscribe(await t.token({ tenant: 'acme ' }));
    try {
      const first = acme.next();
      const res = await t.gql(`mutation { recordOrder(input: { productId: "acme-p01", customerId: "c1", amount: 3, region: "EU", occurredAt: "2026-11-20T10:30:00Z" }) { id } }`);
      expect(res.body.errors).toBeUndefined();
      await first;
      expect(acme.events).toEqual([
        {
          data: {
            metricsInvalidated: {
              metrics: ['REVENUE', 'ORDERS', 'CUSTOMERS', 'AVERAGE_ORDER_VALUE', 'CONVERSION_RATE', 'TOP_PRODUCTS'],
              from: '2026-11-20T10:00:00.000Z',
              to: '2026-11-20T11:00:00.000Z',
              reason: 'order.recorded',
              at: expect.any(String),
            },
          },
        },
      ]);

      // A session reaches the SESSIONS subscriber; events are delivered in order, so once
      // it has arrived, the order event it filtered out would have arrived before it.
      const sessionHeard = acmeSessions.next();
      await t.gql(`mutation { recordSession(input: { visitorId: "v1", region: "APAC" }) { id } }`);
      await sessionHeard;
      expect(acmeSessions.events.map((e) => e.data.metricsInvalidated.metrics)).toEqual([['SESSIONS']]);
      // The APAC-scoped subscriber heard the APAC session, not the EU order.
      await (acmeApac.events.length ? Promise.resolve() : acmeApac.next());
      expect(acmeApac.events.map((e) => e.data.metricsInvalidated.reason)).toEqual(['session.recorded']);
      expect(globex.events).toEqual([]);
      expect(lookalike.events).toEqual([]);
    } finally {
      for (const s of [acme, acmeSessions, acmeApac, globex, lookalike]) s.close();
    }
  });

  it('refuses a subscription without a valid token', async () => {
    const response = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: `subscription { metricsInvalidated { metrics } }` }),
    });
    const text = await response.text();
    expect(text).toMatch(/UNAUTHENTICATED/);
  });
});
