import { startServer } from '../children.js';
import { createRunDir } from '../leftovers.js';
import { signToken } from '../../src/auth/identity.js';
import { bodyOf, rangeOf, ACME_7D_FULL } from '../plan.js';
import { post } from '../load.js';
import { rmSync } from 'node:fs';
const run = createRunDir();
const secret = 'x'.repeat(40);
const env = { NODE_ENV: 'production', JWT_SECRET: secret, DATABASE_URL: 'sqlite:/tmp/bseed/b.sqlite', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'warn' };
const s = await startServer(run, 'uncached', 'api.ts', ['--uncached'], env);
const token = await signToken({ tenant: 'acme', role: 'ADMIN' }, new TextEncoder().encode(secret));
const headers = { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}` };
const body = bodyOf(ACME_7D_FULL, rangeOf(ACME_7D_FULL, Date.now()));
for (let i = 0; i < 5; i++) console.log('seq', (await post(s.origin, headers, body)).ms.toFixed(1));
for (const n of [10, 50]) {
  const t = performance.now();
  const r = await Promise.all(Array.from({ length: n }, () => post(s.origin, headers, body)));
  console.log(n, 'concurrent identical', (performance.now() - t).toFixed(0), 'ms', new Set(r.map((x) => x.text)).size, 'distinct');
}
const { runWindows } = await import('../load.js');
console.log((await runWindows(s.origin, { kind: 'fixed', headers, body }, 50, 3, 2, 3)).runs.map((r) => [r.rps, r.p50, r.good]));
const m = await (await fetch(s.origin + '/metrics')).text();
console.log(m.split('\n').filter((l) => /^cache_|graphql_/.test(l)).slice(0, 15).join('\n'));
await s.stop(); rmSync(run.dir, { recursive: true, force: true });
