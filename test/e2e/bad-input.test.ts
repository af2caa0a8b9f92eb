/**
 * Every bad input of the contract gets BAD_USER_INPUT with a message a person can
 * act on, and a refused mutation writes nothing. Query limits are refused before
 * execution.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, iso, startTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;
const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;

beforeAll(async () => {
  t = await startTestApp({ seed: { days: 3, scale: 0.05 } });
});
afterAll(async () => {
  await t?.close();
});

async function expectBadInput(query: string, variables: Record<string, unknown> | undefined, message: RegExp) {
  const res = await t.gql(query, variables);
  expect(res.body.errors, JSON.stringify(res.body)).toBeDefined();
  const error = res.body.errors![0]!;
  expect(error.extensions?.code, error.message).toBe('BAD_USER_INPUT');
  expect(error.message).toMatch(message);
  return res;
}

/** Orders and sessions of acme over all time, to show that nothing was written. */
async function rowCounts() {
  const res = await t.gql(
    `{ dashboard(range: { from: "${iso(today - 390 * DAY_MS)}", to: "${iso(today + DAY_MS)}" }, granularity: DAY) { orders { total } sessions { total } } }`,
  );
  return res.body.data.dashboard;
}

describe('dashboard ranges', () => {
  const q = `query($from: DateTime!, $to: DateTime!, $g: Granularity) { dashboard(range: { from: $from, to: $to }, granularity: $g) { orders { total } } }`;

  it('refuses `to` not after `from`', async () => {
    await expectBadInput(q, { from: iso(today), to: iso(today) }, /range\.to .* must be after range\.from/);
    await expectBadInput(q, { from: iso(today), to: iso(today - DAY_MS) }, /must be after/);
  });

  it('refuses over 90 days at HOUR and over 400 days at DAY, naming the limit', async () => {
    await expectBadInput(q, { from: iso(today - 91 * DAY_MS), to: iso(today), g: 'HOUR' }, /91 days.*HOUR.*limit is 90 days/);
    await expectBadInput(q, { from: iso(today - 401 * DAY_MS), to: iso(today), g: 'DAY' }, /401 days.*DAY.*limit is 400 days/);
    const ok = await t.gql(q, { from: iso(today - 90 * DAY_MS), to: iso(today), g: 'HOUR' });
    expect(ok.body.errors).toBeUndefined();
    const okDay = await t.gql(q, { from: iso(today - 400 * DAY_MS), to: iso(today), g: 'DAY' });
    expect(okDay.body.errors).toBeUndefined();
  });

  it('refuses malformed DateTimes in variables and in literals', async () => {
    await expectBadInput(q, { from: 'yesterday', to: iso(today) }, /DateTime must be ISO-8601/);
    await expectBadInput(q, { from: '2026-02-30T00:00:00Z', to: iso(today) }, /DateTime must be ISO-8601/);
    await expectBadInput(
      `{ dashboard(range: { from: "2026-13-01T00:00:00Z", to: "2026-11-02T00:00:00Z" }) { orders { total } } }`,
      undefined,
      /DateTime/,
    );
  });

  it('refuses topProducts limit outside 1..50', async () => {
    for (const limit of [0, 51, -1]) {
      await expectBadInput(
        `{ dashboard(range: { from: "${iso(today - DAY_MS)}", to: "${iso(today)}" }) { topProducts(limit: ${limit}) { productId } } }`,
        undefined,
        /limit must be a whole number from 1 to 50/,
      );
    }
  });

  it('refuses an unknown or malformed currency', async () => {
    const field = (c: string) =>
      `{ dashboard(range: { from: "${iso(today - DAY_MS)}", to: "${iso(today)}" }) { revenueIn(currency: "${c}") { amount } } }`;
    await expectBadInput(field('XYZ'), undefined, /Unknown currency "XYZ": supported are .*EUR/);
    await expectBadInput(field('euro'), undefined, /three-letter ISO 4217 code/);
  });
});

describe('mutations', () => {
  const record = `mutation($input: RecordOrderInput!) { recordOrder(input: $input) { id } }`;
  const good = { productId: 'acme-p01', customerId: 'c1', amount: 10 };

  it('refuse bad orders with the field and the limit, and write nothing', async () => {
    const before = await rowCounts();
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ ...good, amount: -1 }, /input\.amount must not be negative/],
      [{ ...good, amount: 1_000_001 }, /input\.amount must be at most 1000000/],
      [{ ...good, amount: 0.001 }, /more than two decimals/],
      [{ ...good, productId: 'no-such-product' }, /input\.productId "no-such-product" is not a product of tenant acme/],
      [{ ...good, productId: '' }, /input\.productId must be 1 to 128/],
      [{ ...good, customerId: 'x'.repeat(200) }, /input\.customerId must be 1 to 128/],
      [{ ...good, region: 'MARS' }, /input\.region must be one of EU, NA, APAC/],
      [{ ...good, occurredAt: iso(Date.now() + DAY_MS) }, /input\.occurredAt .* is in the future/],
      [{ ...good, occurredAt: iso(Date.now() - 500 * DAY_MS) }, /input\.occurredAt .* more than 400 days old/],
    ];
    for (const [input, message] of cases) await expectBadInput(record, { input }, message);
    expect(await rowCounts()).toEqual(before);
  });

  it('refuses a non-finite amount (1e999) written as a literal', async () => {
    const before = await rowCounts();
    await expectBadInput(
      `mutation { recordOrder(input: { productId: "acme-p01", customerId: "c1", amount: 1e999 }) { id } }`,
      undefined,
      /input\.amount must be a finite number/,
    );
    expect(await rowCounts()).toEqual(before);
  });

  it('refuses a non-finite amount sent as a variable', async () => {
    // JSON has no Infinity; 1e999 in the body parses to it.
    const res = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await t.token({})}` },
      body: `{"query":"mutation($input: RecordOrderInput!) { recordOrder(input: $input) { id } }","variables":{"input":{"productId":"acme-p01","customerId":"c1","amount":1e999}}}`,
    });
    const body = await res.json();
    expect(body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(body.errors[0].message).toMatch(/amount/);
  });

  it('refuses bad sessions and writes nothing', async () => {
    const before = await rowCounts();
    await expectBadInput(`mutation { recordSession(input: { visitorId: "  " }) { id } }`, undefined, /input\.visitorId must be 1 to 128/);
    await expectBadInput(
      `mutation { recordSession(input: { visitorId: "v1", region: "eu" }) { id } }`,
      undefined,
      /input\.region must be one of/,
    );
    expect(await rowCounts()).toEqual(before);
  });

  it('refuses a bad invalidateMetrics range', async () => {
    await expectBadInput(
      `mutation { invalidateMetrics(range: { from: "${iso(today)}", to: "${iso(today - DAY_MS)}" }) }`,
      undefined,
      /must be after/,
    );
  });
});

describe('query limits, refused before execution', () => {
  const range = `range: { from: "${iso(today - DAY_MS)}", to: "${iso(today)}" }`;

  it('refuses more than 15 aliases', async () => {
    const fields = Array.from({ length: 16 }, (_, i) => `a${i}: orders { total }`).join(' ');
    const res = await t.gql(`{ dashboard(${range}) { ${fields} } }`);
    expect(res.body.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    expect(res.body.errors?.[0]?.message).toMatch(/alias/i);
    expect(res.body.data).toBeUndefined();
  });

  it('refuses a query deeper than the configured depth', async () => {
    // The schema nests four levels at most, so the default of 10 cannot be reached with
    // its own types; a server configured with MAX_QUERY_DEPTH=2 shows the rule at work.
    const shallow = await startTestApp({ seed: false, env: { MAX_QUERY_DEPTH: '2' } });
    try {
      const deep = await shallow.gql(`{ dashboard(${range}) { orders { points { value } } } }`);
      expect(deep.body.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
      expect(deep.body.errors?.[0]?.message).toMatch(/depth/i);
      expect(deep.body.data).toBeUndefined();
      const ok = await shallow.gql(`{ dashboard(${range}) { granularity } }`);
      expect(ok.body.errors).toBeUndefined();
    } finally {
      await shallow.close();
    }
  });

  it('refuses more than 2,000 tokens', async () => {
    const filler = Array.from({ length: 2_100 }, () => '__typename').join(' ');
    const res = await t.gql(`{ dashboard(${range}) { ${filler} } }`);
    expect(res.body.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    expect(res.body.errors?.[0]?.message).toMatch(/token/i);
  });

  it('refuses a body over 100 KB with 413', async () => {
    const res = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await t.token({})}` },
      body: JSON.stringify({ query: `{ __typename }`, variables: { pad: 'x'.repeat(101 * 1024) } }),
    });
    expect(res.status).toBe(413);
    const body = await res.json();
    expect(body.errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('refuses a batch of operations, and a mutation sent over GET, and writes nothing', async () => {
    const before = await rowCounts();
    const token = await t.token({});
    const order = `mutation { recordOrder(input: { productId: "acme-p01", customerId: "batch-c", amount: 5 }) { id } }`;
    const batch = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify([{ query: order }, { query: order }]),
    });
    expect(batch.status).toBeGreaterThanOrEqual(400);
    expect(JSON.stringify(await batch.json())).toMatch(/batch/i);
    const get = await fetch(`${t.url}/graphql?query=${encodeURIComponent(order)}`, {
      headers: { accept: 'application/json', authorization: `Bearer ${token}` },
    });
    expect(get.status).toBe(405);
    expect(await rowCounts()).toEqual(before);
  });

  it('refuses more than 20,000 cached values (buckets × metric fields) summed over every dashboard field, and accepts up to it', async () => {
    const long = `range: { from: "${iso(today - 90 * DAY_MS)}", to: "${iso(today)}" }`; // 2,160 hours
    const ten = Array.from({ length: 10 }, (_, i) => `d${i}: dashboard(${long}) { orders { total } }`).join(' ');
    const res = await t.gql(`{ ${ten} }`);
    expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', cost: 21_600, limit: 20_000 });
    expect(res.body.errors?.[0]?.message).toMatch(/21600 cached values .*; the limit is 20000/);
    expect(res.body.data).toBeUndefined();
    const nine = Array.from({ length: 9 }, (_, i) => `d${i}: dashboard(${long}) { orders { total } }`).join(' ');
    const ok = await t.gql(`{ ${nine} }`);
    expect(ok.body.errors).toBeUndefined();
    expect(ok.body.data.d8.orders.total).toBe(ok.body.data.d0.orders.total);
  });

  it('counts the metric fields each dashboard reads: one full 90-day HOUR dashboard passes, three are refused before execution', async () => {
    const long = `range: { from: "${iso(today - 90 * DAY_MS)}", to: "${iso(today)}" }`;
    const seven = `revenue { total } orders { total } sessions { total } customers { total } averageOrderValue conversionRate topProducts { name }`;
    const before = (await t.metrics()).value('cache_requests_total');
    const three = await t.gql(
      `{ a: dashboard(${long}) { ${seven} } b: dashboard(${long}) { ${seven} } c: dashboard(${long}) { ${seven} } }`,
    );
    expect(three.body.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', cost: 45_360, limit: 20_000 });
    expect(three.body.data).toBeUndefined();
    // Refused before execution: not one bucket was looked up.
    expect((await t.metrics()).value('cache_requests_total')).toBe(before);
    const one = await t.gql(`{ dashboard(${long}) { ${seven} } }`); // 2,160 × 7 = 15,120
    expect(one.body.errors).toBeUndefined();
    expect(one.body.data.dashboard.orders.total).toBeGreaterThan(0);
  });

  it('counts ranges given as variables too, as the live page sends them', async () => {
    const ten = Array.from({ length: 10 }, (_, i) => `d${i}: dashboard(range: $r) { orders { total } }`).join(' ');
    const res = await t.gql(`query($r: TimeRangeInput!) { ${ten} }`, { r: { from: iso(today - 90 * DAY_MS), to: iso(today) } });
    expect(res.body.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    expect(res.body.errors?.[0]?.message).toMatch(/would read 21600 cached values .*the limit is 20000/);
  });
});
