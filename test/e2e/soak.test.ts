/**
 * The soak (issue 10), run for 30 s as `npm run soak -- --seconds 30`: two instances on
 * a private Redis and a schema of their own in the run's PostgreSQL, load over many
 * tenants, regions and ranges, orders written through both, SSE subscribers per
 * tenant. Its report must show no failed request or write, no subscriber missing a
 * write (or hearing one of another scope), no final answer that differs from an
 * uncached instance, and RSS growth after warm-up under the bound below.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, inject, it } from 'vitest';
import type { SoakReport } from '../../bench/soak.js';

/**
 * RSS growth allowed per instance after warm-up, in MiB: the in-process tier may fill to
 * CACHE_LOCAL_MAX_BYTES (64 MiB) during the run, the young generation may grow to its two
 * 64 MiB semi-spaces (the servers run with --max-semi-space-size=64), and V8 keeps some
 * heap it freed; a leak of the load's size (every request or event kept) passes this
 * within the run.
 */
const MAX_RSS_GROWTH_MIB = 256;
const SECONDS = 30;

const dir = mkdtempSync(join(tmpdir(), 'dashboard-api-soak-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it(`npm run soak -- --seconds ${SECONDS}: no error, no event missing, no answer differing, bounded RSS growth`, async () => {
  const reportPath = join(dir, 'report.json');
  const child = spawn(
    'npm',
    ['run', 'soak', '--', '--seconds', String(SECONDS), '--max-rss-growth-mib', String(MAX_RSS_GROWTH_MIB), '--report', reportPath],
    {
      cwd: process.cwd(),
      // Only what the soak needs: the run's PostgreSQL (it makes a schema of its own there); no REDIS_URL, so a private redis-server.
      env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: inject('postgresUrl') },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));

  expect(code, output).toBe(0);
  const report = JSON.parse(readFileSync(reportPath, 'utf8')) as SoakReport;
  expect(report.database).toMatch(/^PostgreSQL/);
  expect(report.requests).toBeGreaterThan(0);
  expect(report.errors, output).toBe(0);
  expect(report.writes.ok).toBeGreaterThan(0);
  expect(report.writes.failed).toBe(0);
  // Three subscribers per tenant (instance A, instance B, region-scoped on B), six tenants.
  expect(report.subscribers).toHaveLength(18);
  for (const s of report.subscribers) {
    expect(s.expected, s.name).toBeGreaterThan(0);
    expect(s.missing, s.name).toBe(0);
    expect(s.foreign, s.name).toBe(0);
  }
  expect(report.answers.compared).toBeGreaterThan(0);
  expect(report.answers.differing, output).toBe(0);
  for (const r of report.rss) expect(r.growthMiB, r.instance).toBeLessThan(MAX_RSS_GROWTH_MIB);
  expect(output).toContain('SOAK PASSED');
}, 240_000);
