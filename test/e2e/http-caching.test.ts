/**
 * HTTP caching of GET queries: Cache-Control no longer than the shortest-lived field,
 * an ETag, and 304 Not Modified; never for POST, mutations or errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, HOUR_MS, iso, startTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;
let token: string;
beforeAll(async () => {
  t = await startTestApp({
    seed: { days: 3, scale: 0.02 },
    env: { NODE_ENV: 'production', JWT_SECRET: 'a-production-secret-0123456789-abcdefgh' },
  });
  token = await t.token({});
});
afterAll(async () => {
  await t?.close();
});

const get = (query: string, headers: Record<string, string> = {}) =>
  fetch(`${t.url}/graphql?query=${encodeURIComponent(query)}`, {
    headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...headers },
  });

describe('GET queries', () => {
  it('closed buckets only: private, max-age up to a day, and 304 for a matching ETag', async () => {
    const day = Math.floor(Date.now() / DAY_MS) * DAY_MS - 2 * DAY_MS;
    const q = `{ dashboard(range: { from: "${iso(day)}", to: "${iso(day + DAY_MS)}" }) { orders { total } } }`;
    await get(q); // computes the buckets
    const res = await get(q);
    expect(res.status).toBe(200);
    const maxAge = Number(/^private, max-age=(\d+)$/.exec(res.headers.get('cache-control') ?? '')?.[1]);
    expect(maxAge).toBeGreaterThan(23 * 3600);
    expect(maxAge).toBeLessThanOrEqual(24 * 3600);
    expect(res.headers.get('vary')).toMatch(/Authorization/i);
    const etag = res.headers.get('etag');
    expect(etag).toMatch(/^"[\w-]+"$/);
    const body = await res.json();
    const again = await get(q, { 'if-none-match': etag! });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    // A changed answer has another ETag: the old one no longer matches.
    await t.gql(
      `mutation { recordOrder(input: { productId: "acme-p01", customerId: "c", amount: 1, occurredAt: "${iso(day + HOUR_MS)}" }) { id } }`,
    );
    const changed = await get(q, { 'if-none-match': etag! });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
    expect((await changed.json()).data.dashboard.orders.total).toBe(body.data.dashboard.orders.total + 1);
  });

  it('with the open bucket: max-age no longer than its fresh life (30 s)', async () => {
    const q = `{ dashboard(range: { from: "${iso(Date.now() - 2 * HOUR_MS)}", to: "${iso(Date.now())}" }) { orders { total } sessions { total } } }`;
    const res = await get(q);
    const maxAge = Number(/max-age=(\d+)/.exec(res.headers.get('cache-control') ?? '')?.[1]);
    expect(maxAge).toBeGreaterThanOrEqual(0);
    expect(maxAge).toBeLessThanOrEqual(30);
  });

  it('errors and POST are never cacheable', async () => {
    const forbidden = await fetch(
      `${t.url}/graphql?query=${encodeURIComponent(`{ dashboard(range: { from: "${iso(Date.now() - DAY_MS)}", to: "${iso(Date.now())}" }) { revenue { total } } }`)}`,
      {
        headers: { authorization: `Bearer ${await t.token({ role: 'VIEWER' })}`, accept: 'application/json' },
      },
    );
    expect(forbidden.headers.get('cache-control')).toBe('no-store');
    expect(forbidden.headers.get('etag')).toBeNull();
    const post = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        query: `{ dashboard(range: { from: "${iso(Date.now() - 3 * DAY_MS)}", to: "${iso(Date.now() - 2 * DAY_MS)}" }) { orders { total } } }`,
      }),
    });
    expect(post.status).toBe(200);
    expect(post.headers.get('cache-control')).toBe('no-store');
  });
});

describe('whole answers', () => {
  it('are written in one piece with a Content-Length in bytes, not characters', async () => {
    // The error quotes the value as sent, so the answer holds a two-byte character.
    const res = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        query: 'query ($from: DateTime!) { dashboard(range: { from: $from, to: "2026-11-02T00:00:00Z" }) { orders { total } } }',
        variables: { from: 'lundi 1ᵉʳ décembre' },
      }),
    });
    const text = await res.text();
    // Whole: a Content-Length in characters would cut the JSON short at the client.
    expect(JSON.parse(text).errors[0].message).toContain('décembre');
    expect(Number(res.headers.get('content-length'))).toBe(Buffer.byteLength(text));
    expect(Buffer.byteLength(text)).toBeGreaterThan(text.length);
    expect(res.headers.get('transfer-encoding')).toBeNull();
  });
});
