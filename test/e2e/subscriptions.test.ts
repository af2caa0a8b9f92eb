/**
 * `metricsInvalidated` on one instance (the embedded default, in-process fan-out):
 * tenant, region and metric filters, adversarial tenant ids, bursts coalesced,
 * manual invalidations, token expiry, and graphql-ws next to SSE.
 */
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, HOUR_MS, iso, startTestApp, type TestApp } from '../helpers/app.js';
import { eventually } from '../helpers/eventually.js';
import { subscribeSse } from '../helpers/sse.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ seed: { days: 2, scale: 0.02 } });
});
afterAll(async () => {
  await t?.close();
});

const order = (occurredAt: string, region = 'EU') =>
  t.gql(
    `mutation { recordOrder(input: { productId: "acme-p01", customerId: "c1", amount: 3, region: "${region}", occurredAt: "${occurredAt}" }) { id } }`,
  );

describe('metricsInvalidated over SSE', () => {
  it('tells the tenant which metrics changed and where; other tenants, regions and unasked metrics hear nothing', async () => {
    const at = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 3 * HOUR_MS + 30 * 60_000;
    const acme = await subscribeSse(t.url, await t.token({ tenant: 'acme', role: 'VIEWER' }));
    const acmeSessions = await subscribeSse(t.url, await t.token({ tenant: 'acme' }), ['SESSIONS']);
    const acmeApac = await subscribeSse(t.url, await t.token({ tenant: 'acme', region: 'APAC' }));
    const globex = await subscribeSse(t.url, await t.token({ tenant: 'globex' }));
    try {
      expect((await order(iso(at))).body.errors).toBeUndefined();
      await acme.until(1);
      expect(acme.events).toEqual([
        {
          metrics: ['REVENUE', 'ORDERS', 'CUSTOMERS', 'AVERAGE_ORDER_VALUE', 'CONVERSION_RATE', 'TOP_PRODUCTS'],
          from: iso(at - 30 * 60_000),
          to: iso(at + 30 * 60_000),
          reason: 'order.recorded',
          at: expect.any(String),
        },
      ]);
      // A session reaches the SESSIONS subscriber and the APAC one; the order did not,
      // and notices of one tenant are delivered in order, so nothing else is on its way.
      await t.gql(`mutation { recordSession(input: { visitorId: "v1", region: "APAC" }) { id } }`);
      await acmeSessions.until(1);
      await acmeApac.until(1);
      await acme.until(2);
      expect(acmeSessions.events.map((e) => e.metrics)).toEqual([['SESSIONS']]);
      expect(acmeApac.events.map((e) => e.reason)).toEqual(['session.recorded']);
      expect(acme.events[1].metrics).toEqual(['SESSIONS', 'CONVERSION_RATE']);
      expect(globex.events).toEqual([]);
    } finally {
      for (const s of [acme, acmeSessions, acmeApac, globex]) s.close();
    }
  });

  it('never delivers to a lookalike tenant', async () => {
    const lookalikes = ['acme ', ' acme', 'ACME', 'acme*', '{acme}', 'acme\u200B', 'acm', 'acme:EU', '*', 'acme%00', 'аcme'];
    // A tenant with NUL cannot even be signed (control characters are refused: see identity.test.ts).
    await expect(t.token({ tenant: 'acme\u0000' })).rejects.toThrow(/control characters/);
    const subscribers = await Promise.all(lookalikes.map(async (tenant) => subscribeSse(t.url, await t.token({ tenant }))));
    const control = await subscribeSse(t.url, await t.token({ tenant: 'acme' }));
    try {
      await order(iso(Date.now() - HOUR_MS));
      await control.until(1);
      // The control heard it, so a leak would have been delivered by now too (same flush).
      for (const [i, s] of subscribers.entries()) expect(s.events, JSON.stringify(lookalikes[i])).toEqual([]);
    } finally {
      for (const s of [...subscribers, control]) s.close();
    }
  });

  it('coalesces a burst: 100 orders in a second reach a subscriber as a few events with merged ranges', async () => {
    const subscriber = await subscribeSse(t.url, await t.token({}), ['ORDERS']);
    try {
      const base = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 10 * HOUR_MS;
      const started = performance.now();
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) => order(iso(base + (i % 5) * HOUR_MS + i * 1000))));
      const took = performance.now() - started;
      expect(results.every((r) => !r.body.errors)).toBe(true);
      // Every order has been written and published; wait until what was heard covers them all.
      const span = () => [
        Math.min(...subscriber.events.map((e) => Date.parse(e.from))),
        Math.max(...subscriber.events.map((e) => Date.parse(e.to))),
      ];
      await eventually(async () => subscriber.events.length > 0 && span()[0] === base && span()[1] === base + 5 * HOUR_MS);
      expect(subscriber.events.length).toBeGreaterThanOrEqual(1);
      // At most one notice per coalescing window (250 ms) the writes took, and far fewer than
      // the 100 orders: a second of writes on a quiet machine, longer on a loaded one.
      expect(subscriber.events.length).toBeLessThanOrEqual(Math.min(25, Math.ceil(took / 250) + 2));
      expect(subscriber.events.every((e) => JSON.stringify(e.metrics) === '["ORDERS"]')).toBe(true);
    } finally {
      subscriber.close();
    }
  });

  it('ends the subscription when the token expires', async () => {
    const subscriber = await subscribeSse(t.url, await t.token({ ttlMs: 1_500 }));
    await subscriber.completed;
    // Ended for good: a later order reaches a live subscriber, not this one.
    const heardBefore = subscriber.events.length;
    const control = await subscribeSse(t.url, await t.token({}));
    try {
      await order(iso(Date.now() - 2 * HOUR_MS));
      await control.until(1);
      expect(subscriber.events.length).toBe(heardBefore);
    } finally {
      control.close();
    }
  });
});

describe('invalidateMetrics', () => {
  it('drops the named metrics of the caller tenant over the range, returns the count, and tells subscribers (manual)', async () => {
    const from = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS;
    const range = `range: { from: "${iso(from)}", to: "${iso(from + 6 * HOUR_MS)}" }`;
    await t.gql(`{ dashboard(${range}) { orders { total } revenue { total } sessions { total } } }`);
    await t.gql(`{ dashboard(${range}) { orders { total } } }`, undefined, await t.token({ tenant: 'globex' }));
    const subscriber = await subscribeSse(t.url, await t.token({}));
    const other = await subscribeSse(t.url, await t.token({ tenant: 'globex' }));
    try {
      const res = await t.gql(`mutation { invalidateMetrics(metrics: [ORDERS], ${range}) }`);
      // Six hourly ORDERS buckets of the all-regions scope were cached.
      expect(res.body.data.invalidateMetrics).toBe(6);
      await subscriber.until(1);
      expect(subscriber.events[0]).toMatchObject({
        metrics: ['ORDERS', 'AVERAGE_ORDER_VALUE', 'CONVERSION_RATE'],
        from: iso(from),
        to: iso(from + 6 * HOUR_MS),
        reason: 'manual',
      });
      const after = await t.gql(`{ dashboard(${range}) { orders { total } revenue { total } sessions { total } } }`);
      expect(after.body.extensions?.cache).toMatchObject({
        ORDERS: { hit: 0, miss: 6 },
        REVENUE: { hit: 6, miss: 0 },
        SESSIONS: { hit: 6, miss: 0 },
      });
      const globexAfter = await t.gql(`{ dashboard(${range}) { orders { total } } }`, undefined, await t.token({ tenant: 'globex' }));
      expect(globexAfter.body.extensions?.cache?.ORDERS).toEqual({ hit: 6, miss: 0, stale: 0 });
      expect(other.events).toEqual([]);
      expect((await t.metrics()).value('cache_invalidations_total', { metric: 'ORDERS', reason: 'manual' })).toBe(6);
    } finally {
      subscriber.close();
      other.close();
    }
  });
});

describe('an order drops exactly its buckets', () => {
  it('leaves SESSIONS and every other hour cached', async () => {
    const day = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS;
    const q = `{ dashboard(range: { from: "${iso(day)}", to: "${iso(day + DAY_MS)}" }) { orders { total } sessions { total } revenue { total } customers { total } topProducts { orders } } }`;
    const qDay = q.replace('}) {', '}, granularity: DAY) {');
    await t.gql(q);
    await t.gql(qDay);
    expect((await t.gql(q)).body.extensions?.cache?.ORDERS).toEqual({ hit: 24, miss: 0, stale: 0 });
    await order(iso(day + 7 * HOUR_MS + 5 * 60_000), 'NA');
    const after = await t.gql(q);
    for (const metric of ['ORDERS', 'REVENUE', 'CUSTOMERS', 'TOP_PRODUCTS']) {
      expect(after.body.extensions?.cache?.[metric], metric).toEqual({ hit: 23, miss: 1, stale: 0 });
    }
    expect(after.body.extensions?.cache?.SESSIONS).toEqual({ hit: 24, miss: 0, stale: 0 });
    expect((await t.gql(qDay)).body.extensions?.cache?.ORDERS).toEqual({ hit: 0, miss: 1, stale: 0 });
    // An EU-scoped reader's entries were not touched by an NA order.
    const eu = await t.token({ region: 'EU' });
    await t.gql(q, undefined, eu);
    await order(iso(day + 9 * HOUR_MS), 'NA');
    expect((await t.gql(q, undefined, eu)).body.extensions?.cache?.ORDERS).toEqual({ hit: 24, miss: 0, stale: 0 });
  });
});

describe('metricsInvalidated over WebSocket (graphql-ws)', () => {
  it('authorizes with connectionParams and delivers the tenant notices', async () => {
    const token = await t.token({});
    const client = createClient({
      url: t.url.replace('http', 'ws') + '/graphql',
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
    });
    const heard: any[] = [];
    let resolveFirst!: () => void;
    const first = new Promise<void>((resolve) => (resolveFirst = resolve));
    const started = new Promise<void>((resolve) => client.on('connected', () => resolve()));
    const unsubscribe = client.subscribe(
      { query: `subscription { metricsInvalidated(metrics: [SESSIONS]) { metrics reason } }` },
      { next: (value) => (heard.push(value.data), resolveFirst()), error: () => {}, complete: () => {} },
    );
    try {
      await started;
      // The subscribe message follows the connection; wait until the server counts it.
      await eventually(async () => (await t.metrics()).value('graphql_subscriptions') >= 1);
      await t.gql(`mutation { recordSession(input: { visitorId: "ws" }) { id } }`);
      await first;
      expect(heard).toEqual([{ metricsInvalidated: { metrics: ['SESSIONS'], reason: 'session.recorded' } }]);
    } finally {
      unsubscribe();
      await client.dispose();
    }
  });

  it('closes a connection without a valid token with 4403', async () => {
    const socket = new WebSocket(t.url.replace('http', 'ws') + '/graphql', 'graphql-transport-ws');
    const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: 'Bearer forged' } })));
    expect(await closed).toBe(4403);
  });
});
