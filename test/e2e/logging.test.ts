/**
 * Structured JSON logs: a request id and the tenant on every line of a request, the
 * level from LOG_LEVEL, and never a token or a secret, whatever happens.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { signToken } from '../../src/auth/identity.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/logger.js';
import { DAY_MS, iso, TEST_SECRET } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';

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

beforeAll(async () => {
  db = await createTestDatabase('sqlite');
  const config = loadConfig({ NODE_ENV: 'test', JWT_SECRET: TEST_SECRET, DATABASE_URL: db.url, HOST: '127.0.0.1', PORT: '0' });
  app = await createApp(config, { logger: createLogger('debug', sink), seed: { days: 2, scale: 0.02 } });
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
