/**
 * The product as a user meets it: `npm start` on a machine with only Node seeds the
 * embedded database once, prints the GraphiQL URL and a token, serves GraphiQL
 * with them, and stops gracefully. `npm run token` signs what the contract says.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyAuthorization } from '../../src/auth/identity.js';
import { DEV_JWT_SECRET } from '../../src/config/index.js';
import { DAY_MS, iso } from '../helpers/app.js';
import { eventually } from '../helpers/eventually.js';
import { runScript } from '../helpers/process.js';
import { freePort } from '../helpers/services.js';

const dir = mkdtempSync(join(tmpdir(), 'dashboard-api-start-'));
const DATABASE_URL = `sqlite:${join(dir, 'demo.sqlite')}`;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function post(url: string, token: string, query: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ query }));
  });
}

async function inFlightGraphQL(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(/http_requests_in_flight\{route="graphql"\} (\d+)/.exec(text)?.[1] ?? 0);
}

describe('npm start on the embedded default', () => {
  it('seeds the demo data on first start, prints the GraphiQL URL and a token, and stops gracefully mid-request', async () => {
    const port = await freePort();
    const server = runScript('src/main.ts', [], { PORT: String(port), DATABASE_URL });
    try {
      const [, url] = await server.waitFor(/GraphiQL: (http:\S+)/, 120_000);
      const [, token] = await server.waitFor(/Token \(acme, ADMIN, 12 h\):\s+(\S+)/);
      expect(url).toBe(`http://localhost:${port}/graphql`);
      expect(server.output()).toMatch(/seeding demo data: \d+% \([\d,]+ rows\)/);
      expect(server.output()).toMatch(/JWT_SECRET is not set: using the fixed development secret/);
      expect((await verifyAuthorization(`Bearer ${token}`, new TextEncoder().encode(DEV_JWT_SECRET))).tenant).toBe('acme');

      // Realistic volume: acme about 2,000 orders and 10,000 sessions a day.
      const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
      const week = await post(
        url!,
        token!,
        `{ dashboard(range: { from: "${iso(today - 7 * DAY_MS)}", to: "${iso(today)}" }, granularity: DAY) { orders { total } sessions { total } } }`,
      );
      expect(week.status).toBe(200);
      expect(week.body.data.dashboard.orders.total / 7).toBeGreaterThan(1_500);
      expect(week.body.data.dashboard.orders.total / 7).toBeLessThan(2_500);
      expect(week.body.data.dashboard.sessions.total / 7).toBeGreaterThan(7_500);
      expect(week.body.data.dashboard.sessions.total / 7).toBeLessThan(12_500);

      const page = await (await fetch(url!, { headers: { accept: 'text/html' } })).text();
      expect(page).toContain('GraphiQL');
      expect(page).toMatch(/Authorization[^B]*Bearer ey/);
      expect(page).toContain('dashboard(range: { from: $from, to: $to }');

      // The live page it prints is served, with its bundle, by this same process.
      const [, live] = /Live page: (http:\S+)/.exec(server.output())!;
      expect(live).toBe(`http://localhost:${port}/`);
      const html = await (await fetch(live!)).text();
      const script = /src="(\/page\/app\.js\?v=\w+)"/.exec(html)?.[1];
      expect(script, 'the page names its script').toBeDefined();
      const bundle = await fetch(`http://localhost:${port}${script}`);
      expect(bundle.status).toBe(200);
      expect(await bundle.text()).toContain('metricsInvalidated');

      // A request is in flight when SIGTERM arrives: its body is half sent. The server must
      // stop accepting, yet wait for the rest of it and answer.
      const body = JSON.stringify({
        query: `{ dashboard(range: { from: "${iso(today - 90 * DAY_MS)}", to: "${iso(today)}" }) { orders { total } } }`,
      });
      const half = Math.floor(body.length / 2);
      const req = request(url!, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${token}` },
      });
      const answer = new Promise<{ status: number; body: any }>((resolve, reject) => {
        req.on('response', (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
        });
        req.on('error', reject);
      });
      req.write(body.slice(0, half));
      await eventually(async () => (await inFlightGraphQL(`http://localhost:${port}`)) >= 1, 10_000, 'request in flight');
      server.kill('SIGTERM');
      await server.waitFor(/shutting down/);
      await expect(fetch(`http://localhost:${port}/healthz`)).rejects.toThrow();
      req.end(body.slice(half));
      const answered = await answer;
      expect(answered.status).toBe(200);
      expect(answered.body.data.dashboard.orders.total).toBeGreaterThan(100_000);
      expect(await server.exited).toBe(0);
      expect(server.output()).toMatch(/shutting down/);
    } finally {
      server.kill('SIGKILL');
    }
  }, 180_000);

  it('reuses the seeded database on the second start', async () => {
    const port = await freePort();
    const server = runScript('src/main.ts', [], { PORT: String(port), DATABASE_URL });
    try {
      await server.waitFor(/GraphiQL: http:\S+/, 60_000);
      expect(server.output()).not.toMatch(/seeding/);
      const ready = await fetch(`http://localhost:${port}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: 'ok', dependencies: { database: { status: 'up', kind: 'sqlite' } } });
      server.kill('SIGINT');
      expect(await server.exited).toBe(0);
    } finally {
      server.kill('SIGKILL');
    }
  }, 120_000);

  it('refuses to start in production without JWT_SECRET, naming the variable', async () => {
    const server = runScript('src/main.ts', [], { NODE_ENV: 'production', DATABASE_URL });
    expect(await server.exited).toBe(1);
    expect(server.output()).toMatch(/Cannot start: JWT_SECRET: is required when NODE_ENV=production/);
  });

  it('refuses a bad setting, naming the variable', async () => {
    const server = runScript('src/main.ts', [], { PORT: 'eighty', DATABASE_URL });
    expect(await server.exited).toBe(1);
    expect(server.output()).toMatch(/Cannot start: PORT: expected a whole number from 0 to 65535, got "eighty"/);
  });
});

describe('npm run token', () => {
  it('prints a token with the claims asked for, signed with JWT_SECRET', async () => {
    const secret = 'a-secret-of-the-operator-0123456789abcdef';
    const cli = runScript('src/cli/token.ts', ['--tenant', 'globex', '--role', 'VIEWER', '--region', 'EU'], { JWT_SECRET: secret });
    expect(await cli.exited).toBe(0);
    const token = cli.output().trim().split('\n').pop()!;
    const identity = await verifyAuthorization(`Bearer ${token}`, new TextEncoder().encode(secret));
    expect(identity).toMatchObject({ tenant: 'globex', role: 'VIEWER', region: 'EU' });
    expect(decodeJwt(token).exp! - decodeJwt(token).iat!).toBe(12 * 3600);
  });

  it('refuses an unknown role with a message', async () => {
    const cli = runScript('src/cli/token.ts', ['--tenant', 'acme', '--role', 'ROOT'], {});
    expect(await cli.exited).toBe(2);
    expect(cli.output()).toMatch(/role must be one of ADMIN, ANALYST, VIEWER, got "ROOT"/);
  });
});
