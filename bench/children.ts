/**
 * The driver's side of the bench servers: each is a Node process running an entry
 * of bench/servers/ through the repo's tsx (`node --import tsx`, so that the pid
 * is the server itself, not a tsx launcher: its RSS is the server's), with an IPC
 * channel. It reports its port when it listens; it exits when told (SIGTERM), and
 * by itself when the channel closes (the driver died). Every child is recorded in
 * the run's owner file at once and killed on the driver's exit, however it exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { RunDir } from './leftovers.js';
import type { ReadyMessage } from './servers/child.js';

/** How long a server may take from spawn to listening. */
const START_TIMEOUT_MS = 90_000;
/** How long a server may take to exit after SIGTERM before it gets SIGKILL. */
const STOP_TIMEOUT_MS = 8_000;
/** How much of a server's output is kept for error messages, in characters. */
const OUTPUT_KEPT = 8_000;

/** A running bench server. */
export interface ServerProcess {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  /** `http://127.0.0.1:PORT`. */
  readonly origin: string;
  /** The last few KB of its stdout and stderr. */
  output(): string;
  /** True once the process has exited. */
  exited(): boolean;
  /** How it ended (`code 0`, `SIGKILL`, …); undefined while it runs. */
  exitedBy(): string | undefined;
  /**
   * Freezes it (SIGSTOP) while another server is measured, so that its timers, its
   * polling and V8's idle-time garbage collection do not run on the measured server's
   * cores. Its connections stay open; the kernel keeps what arrives meanwhile.
   */
  pause(): void;
  /** Thaws a paused server (SIGCONT); nothing for one that runs. */
  resume(): void;
  /** SIGTERM, then SIGKILL after a grace; resolves once it has exited. Safe to call again. */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  // Synchronous, so that it runs on process.exit() too (signal handlers, watchdog).
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/**
 * Node flags of every server process, the baselines' as well as this API's, as `npm start`
 * runs the server: a young generation of 64 MiB semi-spaces instead of V8's 16, so that
 * the objects of 50 concurrent requests, alive across their IO, die young instead of being
 * promoted and swept from the old generation (garbage collection was a quarter of a warm
 * request's CPU).
 */
export const SERVER_NODE_FLAGS = ['--max-semi-space-size=64'];

/**
 * Starts `bench/servers/<entry>` with `args` and exactly `env` (plus PATH and HOME),
 * and resolves once it listens.
 */
export async function startServer(
  run: RunDir,
  name: string,
  entry: string,
  args: string[],
  env: Record<string, string>,
): Promise<ServerProcess> {
  hookExit();
  const repo = process.cwd();
  const child = spawn(
    process.execPath,
    [...SERVER_NODE_FLAGS, '--import', 'tsx', join('bench', 'servers', entry), '--run-dir', run.dir, ...args],
    {
      cwd: repo,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    },
  );
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-OUTPUT_KEPT);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exit.then(() => {
    live.delete(child);
    if (child.pid !== undefined) run.disown(child.pid);
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  live.add(child);
  run.own({ kind: 'server', pid: child.pid! });

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} did not listen within ${START_TIMEOUT_MS / 1000} s:\n${output}`)),
      START_TIMEOUT_MS,
    );
    child.on('message', (message: ReadyMessage) => {
      if (message?.ready) {
        clearTimeout(timer);
        resolve(message.port);
      }
    });
    void exit.then(() => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before listening:\n${output}`));
    });
  }).catch(async (error) => {
    child.kill('SIGKILL');
    await exit;
    throw error;
  });

  let stopping: Promise<void> | undefined;
  return {
    name,
    pid: child.pid!,
    port,
    origin: `http://127.0.0.1:${port}`,
    output: () => output,
    exited: () => hasExited(child),
    exitedBy: () => child.signalCode ?? (child.exitCode === null ? undefined : `code ${child.exitCode}`),
    pause() {
      if (!hasExited(child)) child.kill('SIGSTOP');
    },
    resume() {
      if (!hasExited(child)) child.kill('SIGCONT');
    },
    stop() {
      stopping ??= (async () => {
        if (hasExited(child)) return;
        // A paused process would hold SIGTERM until thawed.
        child.kill('SIGCONT');
        child.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), STOP_TIMEOUT_MS)));
        if ((await Promise.race([exit, late])) === 'late') {
          child.kill('SIGKILL');
          await exit;
        }
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}
