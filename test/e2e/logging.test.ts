/**
 * Structured JSON logs: a request id and the tenant on every line of a request, the
 * level from LOG_LEVEL, and never a token or a secret, whatever happens.
 */
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { signToken } from '../../src/auth/identity.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/logger.js';
import { DAY_MS, iso, TEST_SECRET } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';
import { eventually } from '../helpers/eventually.js';

const lines: string[] = [];
const sink = new Writable({
  write(chunk, _encoding, done) {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    done();
  },
});
let app: App;
let db: TestDatabase;
let url: string;
/** While set, every source query waits for it: a request held in the middle, for the client to leave. */
let hold: Promise<void> | undefined;
let sourceCalls = 0;

beforeAll(async () => {
  db = await createTestDatabase('sqlite');
  const config = loadConfig({ NODE_ENV: 'test', JWT_SECRET: TEST_SECRET, DATABASE_URL: db.url, HOST: '127.0.0.1', PORT: '0' });
  app = await createApp(config, {
    logger: createLogger('debug', sink),
    seed: { days: 2, scale: 0.02 },
    wrapAggregates: (aggregates) =>
      new Proxy(aggregates, {
        get(target, name, receiver) {
          const value: unknown = Reflect.get(target, name, receiver);
          if (typeof value !== 'function') return value;
          return async (...args: unknown[]) => {
            sourceCalls++;
            if (hold) await hold;
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      }),
  });
  url = `http://127.0.0.1:${await app.listen(0)}`;
});
afterAll(async () => {
  await app?.close();
  await db?.drop();
});

const post = (body: unknown, token?: string, headers: Record<string, string> = {}) =>
  fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: JSON.stringify(body),
  });

it('logs each operation with the request id and tenant, and never a token or the secret', async () => {
  const token = await signToken({ tenant: 'acme', role: 'VIEWER' }, new TextEncoder().encode(TEST_SECRET));
  const range = `range: { from: "${iso(Date.now() - DAY_MS)}", to: "${iso(Date.now())}" }`;
  const res = await post({ query: `query Overview { dashboard(${range}) { orders { total } revenue { total } } }` }, token, {
    'x-request-id': 'req-42',
  });
  expect(res.headers.get('x-request-id')).toBe('req-42');
  const generated = await post({ query: `{ dashboard(${range}) { sessions { total } } }` }, token);
  const generatedId = generated.headers.get('x-request-id');
  expect(generatedId).toMatch(/^[0-9a-f-]{36}$/);
  // Failures of every kind, each carrying the token somewhere it could leak from.
  await post({ query: `{ dashboard(range: { from: "x", to: "y" }) { orders { total } } }`, variables: { token } }, token);
  await post({ query: `mutation { recordOrder(input: { productId: "${token}", customerId: "c", amount: -1 }) { id } }` }, token);
  await post({ query: `{ __typename }` }, `${token}tampered`);
  await post({ query: `{ __typename }` }, undefined, { authorization: token });

  const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const operation = parsed.find((l) => l.msg === 'graphql operation' && l.reqId === 'req-42');
  expect(operation).toMatchObject({
    tenant: 'acme',
    role: 'VIEWER',
    operation: 'Overview',
    type: 'query',
    errors: ['FORBIDDEN'],
    level: 30,
  });
  expect(parsed.some((l) => l.msg === 'graphql operation' && l.reqId === generatedId && l.tenant === 'acme')).toBe(true);
  const all = lines.join('\n');
  expect(all).not.toContain(token.split('.')[2]!); // the signature: a token in any form
  expect(all).not.toContain(TEST_SECRET);
});

it('writes only at or above LOG_LEVEL', () => {
  const quiet = createLogger('warn', sink);
  const before = lines.length;
  quiet.info('not written');
  quiet.warn('written');
  expect(lines.slice(before).map((l) => JSON.parse(l).msg)).toEqual(['written']);
});

describe('a client that leaves before its answer', () => {
  const parsedFrom = (from: number) => lines.slice(from).map((l) => JSON.parse(l) as Record<string, unknown>);
  const GONE = 'client closed the connection before the answer';
  /** A line about the client leaving: the one expected, or an error line that says it the old way. */
  const saysGone = (l: Record<string, unknown>) => l.msg === GONE || Number(l.level) >= 50;

  /** Every line from `from` on: none at warn or above, and exactly one short debug line saying the client left. */
  function expectOneShortDebugLine(from: number) {
    const after = parsedFrom(from);
    expect(after.filter((l) => Number(l.level) >= 40)).toEqual([]);
    const gone = after.filter((l) => l.msg === GONE);
    expect(gone).toHaveLength(1);
    expect(gone[0]!.level).toBe(20);
    expect(JSON.stringify(gone[0]).length).toBeLessThan(300);
    expect(lines.slice(from).join('\n')).not.toMatch(/DOMException|AbortError|"stack"/);
  }

  it('is logged as one short debug line when it aborts mid-request, not as a server error with the DOMException', async () => {
    let release!: () => void;
    hold = new Promise<void>((resolve) => (release = resolve));
    const calls = sourceCalls;
    const from = lines.length;
    const abort = new AbortController();
    const token = await signToken({ tenant: 'acme', role: 'ADMIN' }, new TextEncoder().encode(TEST_SECRET));
    // A range and a metric no other test read: the request goes to the source, and waits there.
    const range = `range: { from: "${iso(Date.now() - 2 * DAY_MS)}", to: "${iso(Date.now() - DAY_MS)}" }`;
    const pending = fetch(`${url}/graphql`, {
      method: 'POST',
      signal: abort.signal,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-request-id': 'leaves-early' },
      body: JSON.stringify({ query: `{ dashboard(${range}) { customers { total } } }` }),
    }).catch((error: unknown) => error);
    try {
      await eventually(() => sourceCalls > calls, 10_000, 'the request held in the source');
      abort.abort();
      expect((await pending) as Error).toMatchObject({ name: 'AbortError' });
      await eventually(() => parsedFrom(from).some(saysGone), 10_000, 'the server noticing the client left');
    } finally {
      hold = undefined;
      release();
    }
    // The operation itself still ends (and logs its usual line); nothing else is said.
    await eventually(
      () => parsedFrom(from).some((l) => l.msg === 'graphql operation' && l.reqId === 'leaves-early'),
      10_000,
      'the operation line',
    );
    expectOneShortDebugLine(from);
    expect(parsedFrom(from).find((l) => l.msg === GONE)).toMatchObject({ reqId: 'leaves-early', route: 'graphql' });
  });

  it('is logged the same way when it leaves half-way through sending its body', async () => {
    const from = lines.length;
    const { port } = new URL(url);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.write('POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"query":');
    await eventually(
      async () => {
        const text = await (await fetch(`${url}/metrics`)).text();
        return /http_requests_in_flight\{route="graphql"\} 1/.test(text);
      },
      10_000,
      'the request being read',
    );
    socket.destroy();
    await eventually(() => parsedFrom(from).some(saysGone), 10_000, 'the server noticing the client left');
    expectOneShortDebugLine(from);
  });
});
