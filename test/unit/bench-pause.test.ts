/**
 * The bench measures one server at a time with every other bench server paused
 * (bench/dashboard.ts `alone`): a paused server must answer nothing, answer again once
 * resumed, and still stop when the run ends while it is paused.
 */
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { startServer, type ServerProcess } from '../../bench/children.js';
import { createRunDir } from '../../bench/leftovers.js';

const run = createRunDir();
let server: ServerProcess | undefined;

afterAll(async () => {
  await server?.stop();
  rmSync(run.dir, { recursive: true, force: true });
});

const health = (s: ServerProcess) => fetch(`${s.origin}/healthz`).then((r) => r.status);
const within = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<'still waiting'>((resolve) => setTimeout(() => resolve('still waiting'), ms))]);

describe('a bench server paused while another is measured', () => {
  it('answers nothing while paused, answers what was sent meanwhile once resumed, and stops while paused', async () => {
    server = await startServer(run, 'stored', 'stored.ts', [], {
      NODE_ENV: 'production',
      JWT_SECRET: 'bench-pause-test-secret-bench-pause-test',
    });
    expect(await health(server)).toBe(200);

    server.pause();
    const sent = health(server);
    expect(await within(sent, 500)).toBe('still waiting');

    server.resume();
    expect(await within(sent, 5_000)).toBe(200);

    // A paused process holds SIGTERM until it runs again: stopped while paused, it must
    // still close and exit by itself, not be left to the SIGKILL after the grace.
    server.pause();
    await server.stop();
    expect(server.exitedBy()).toBe('code 0');
  }, 30_000);
});
