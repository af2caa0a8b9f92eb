/**
 * `DATABASE_URL=postgres://127.0.0.1:5432/db` starts where `USER` is not set, as in
 * many containers (issue 10): what the URL leaves out follows libpq's rules, as `psql`
 * does — PGUSER, PGPASSWORD, …, then the operating-system user. pg alone falls back
 * to `$USER` and fails with "no PostgreSQL user name specified in startup packet".
 *
 * The real server process (`src/main.ts`) is started with an environment of PATH and
 * HOME only: no USER, LOGNAME or PGUSER. It must connect as the operating-system user.
 */
import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Database } from '../../src/source/database.js';
import { DAY_MS, iso, TEST_SECRET } from '../helpers/app.js';
import { createSeededDatabase, type TestDatabase } from '../helpers/databases.js';
import { runScript } from '../helpers/process.js';
import { freePort } from '../helpers/services.js';
import { signToken } from '../../src/auth/identity.js';

const osUser = userInfo().username;
let seeded: { test: TestDatabase; database: Database };
let admin: pg.Client;
/** Set when this test had to make a role for the operating-system user (a PostgreSQL without one). */
let madeRole: { password: string } | undefined;

beforeAll(async () => {
  // Seeded here, so that the server finds demo data and does not write 90 days of it.
  seeded = await createSeededDatabase('postgres', { days: 2, scale: 0.02 });
  admin = new pg.Client({ connectionString: inject('postgresUrl') });
  await admin.connect();
  const { rowCount } = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [osUser]);
  if (!rowCount) {
    const password = randomBytes(12).toString('hex');
    await admin.query(`CREATE ROLE ${pg.escapeIdentifier(osUser)} LOGIN SUPERUSER PASSWORD ${pg.escapeLiteral(password)}`);
    madeRole = { password };
  }
}, 60_000);

afterAll(async () => {
  await seeded?.database.close();
  await seeded?.test.drop();
  if (madeRole) await admin.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(osUser)}`);
  await admin?.end();
});

describe('DATABASE_URL without a user, USER unset', () => {
  it('starts and connects as the operating-system user', async () => {
    const url = new URL(seeded.test.url);
    url.username = '';
    url.password = '';
    expect(url.href).toMatch(/^postgres:\/\/127\.0\.0\.1:5432\/test\?/);
    const port = await freePort();
    // runScript passes PATH, HOME and these only: no USER, LOGNAME or PGUSER.
    const env = {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: url.href,
      NODE_ENV: 'test',
      JWT_SECRET: TEST_SECRET,
      LOG_LEVEL: 'warn',
      // Only where this test made the role: PGPASSWORD is one of libpq's rules too.
      ...(madeRole ? { PGPASSWORD: madeRole.password } : {}),
    };
    expect(Object.keys(env)).not.toContain('USER');
    const server = runScript('src/main.ts', [], env);
    try {
      await server.waitFor(/GraphiQL: http/, 60_000);
      const base = `http://127.0.0.1:${port}`;
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ dependencies: { database: { status: 'up', kind: 'postgres' } } });

      const token = await signToken({ tenant: 'acme', role: 'ADMIN' }, new TextEncoder().encode(TEST_SECRET));
      const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
      const response = await fetch(`${base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({
          query: `{ dashboard(range: { from: "${iso(today - DAY_MS)}", to: "${iso(today)}" }, granularity: DAY) { orders { total } } }`,
        }),
      });
      const body = (await response.json()) as { data?: { dashboard: { orders: { total: number } } }; errors?: unknown };
      expect(body.errors).toBeUndefined();
      expect(body.data!.dashboard.orders.total).toBeGreaterThan(0);

      // The server's pool is connected as the operating-system user.
      const { rows } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1', [osUser]);
      expect(rows[0]!.n).toBeGreaterThan(0);
    } finally {
      server.kill('SIGTERM');
      await server.exited;
    }
    expect(server.output()).not.toMatch(/no PostgreSQL user name/);
  }, 90_000);
});
