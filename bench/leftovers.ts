/**
 * What a killed run leaves behind, and how the next run clears it.
 *
 * A run that ends normally, fails or gets SIGINT/SIGTERM in time cleans up itself. But
 * `tsx` (the CLI behind `npm run bench`) SIGKILLs its child when the child does not
 * acknowledge a relayed signal within a few tens of milliseconds, which happens when
 * the event loop is busy serving the load; no exit hook runs then. So every run
 * writes an owner file into its temp folder (its pid, and every process it started:
 * the redis-servers with their ports, the bench servers), and the next run removes
 * the folders of runs that are gone and stops their processes — only after
 * checking, by pid, that the process still is that redis-server on that port, or a
 * bench server whose command line names that run's folder.
 *
 * (The bench servers also exit by themselves when their IPC channel to the driver
 * closes, so normally none is left for the sweep to find.)
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

const PREFIX = 'dashboard-api-bench-';
const OWNER_FILE = 'owner.json';
/** The redis helper's own temp folder (test/helpers/redis.ts), the server's --dir and cwd. */
const REDIS_DIR_PREFIX = 'dashboard-api-redis-';

/**
 * A process a run started, or a folder the redis helper made for it (a cluster's
 * node config files; only folders named like the helper's are ever removed).
 */
export type Owned = { kind: 'redis'; pid: number; port: number } | { kind: 'server'; pid: number } | { kind: 'redis-dir'; path: string };

interface Owner {
  pid: number;
  /** Written by runs before the bench started more than one process. */
  redis?: { pid: number; port: number } | undefined;
  children?: Owned[] | undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but is not ours; treat as alive and leave it alone.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return undefined;
  }
}

/** True when `pid` is a redis-server listening on `port` (Linux /proc; false elsewhere). */
function isRedisOn(pid: number, port: number): boolean {
  const cmdline = commandLine(pid);
  // redis-server rewrites its title to "redis-server 127.0.0.1:PORT"; before that, argv has --port PORT.
  return cmdline !== undefined && /^\S*redis-server\b/.test(cmdline) && new RegExp(`(?:^|[\\s:])${port}(?:\\s|$)`).test(cmdline);
}

/** True when `pid` is a bench server of the run whose folder is `dir` (it has `--run-dir DIR` in its arguments). */
function isServerOf(pid: number, dir: string): boolean {
  const cmdline = commandLine(pid);
  return cmdline !== undefined && cmdline.includes(`--run-dir ${dir}`) && cmdline.includes('bench/servers/');
}

/** Stops a dead run's redis-server and removes the folders the redis helper made for it. */
function stopRedis(redis: { pid: number; port: number }, done: string[]): void {
  let redisDir: string | undefined;
  try {
    redisDir = readlinkSync(`/proc/${redis.pid}/cwd`);
  } catch {
    redisDir = undefined;
  }
  process.kill(redis.pid, 'SIGTERM');
  done.push(`stopped redis-server ${redis.pid} (port ${redis.port}) of an interrupted run`);
  if (redisDir) removeRedisDir(redisDir);
}

function removeRedisDir(path: string): void {
  if (basename(path).startsWith(REDIS_DIR_PREFIX) && existsSync(path)) rmSync(path, { recursive: true, force: true });
}

/** Removes the leftovers of bench runs whose process is gone; returns what it did, for one log line. */
export function sweepLeftovers(): string[] {
  const done: string[] = [];
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(PREFIX)) continue;
    const dir = join(tmpdir(), name);
    let owner: Owner;
    try {
      owner = JSON.parse(readFileSync(join(dir, OWNER_FILE), 'utf8')) as Owner;
    } catch {
      continue; // not ours to judge: no owner file
    }
    if (alive(owner.pid)) continue; // another run in progress
    const children: Owned[] = [...(owner.children ?? []), ...(owner.redis ? [{ kind: 'redis' as const, ...owner.redis }] : [])];
    for (const child of children) {
      if (child.kind === 'redis-dir') {
        removeRedisDir(child.path);
        continue;
      }
      if (!alive(child.pid)) continue;
      if (child.kind === 'redis' && isRedisOn(child.pid, child.port)) stopRedis(child, done);
      if (child.kind === 'server' && isServerOf(child.pid, dir)) {
        process.kill(child.pid, 'SIGKILL');
        done.push(`killed bench server ${child.pid} of an interrupted run`);
      }
    }
    rmSync(dir, { recursive: true, force: true });
    done.push(`removed ${dir} of an interrupted run`);
  }
  return done;
}

/** A run's temp folder, and the record of what the run started. */
export interface RunDir {
  readonly dir: string;
  /** Records a process (or helper folder) this run started, as soon as it exists. */
  own(child: Owned): void;
  /** Forgets a process (by pid) or folder (by path) this run has cleaned up itself. */
  disown(what: number | string): void;
}

/** A fresh temp folder owned by this process. */
export function createRunDir(): RunDir {
  const dir = mkdtempSync(join(tmpdir(), PREFIX));
  const children = new Map<number | string, Owned>();
  const write = () =>
    writeFileSync(join(dir, OWNER_FILE), JSON.stringify({ pid: process.pid, children: [...children.values()] } satisfies Owner));
  write();
  return {
    dir,
    own(child) {
      children.set(child.kind === 'redis-dir' ? child.path : child.pid, child);
      write();
    },
    disown(what) {
      if (children.delete(what) && existsSync(dir)) write();
    },
  };
}
