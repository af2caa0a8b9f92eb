/**
 * What a killed run leaves behind, and how the next run clears it.
 *
 * A run that ends normally, fails or gets SIGINT/SIGTERM in time cleans up itself. But
 * `tsx` (the CLI behind `npm run bench`) SIGKILLs its child when the child does not
 * acknowledge a relayed signal within a few tens of milliseconds, which happens when
 * the event loop is busy serving the load; no exit hook runs then. So every run
 * writes an owner file into its temp folder (its pid, and the pid and port of the
 * redis-server it started), and the next run removes the folders of runs that are
 * gone and stops their redis-server — only after checking, by pid, that the process
 * still is that redis-server on that port.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

const PREFIX = 'dashboard-api-bench-';
const OWNER_FILE = 'owner.json';
/** The redis helper's own temp folder (test/helpers/redis.ts), the server's --dir and cwd. */
const REDIS_DIR_PREFIX = 'dashboard-api-redis-';

interface Owner {
  pid: number;
  redis?: { pid: number; port: number } | undefined;
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

/** True when `pid` is a redis-server listening on `port` (Linux /proc; false elsewhere). */
function isRedisOn(pid: number, port: number): boolean {
  try {
    // redis-server rewrites its title to "redis-server 127.0.0.1:PORT"; before that, argv has --port PORT.
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    return /^\S*redis-server\b/.test(cmdline) && new RegExp(`(?:^|[\\s:])${port}(?:\\s|$)`).test(cmdline);
  } catch {
    return false;
  }
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
    const redis = owner.redis;
    if (redis && alive(redis.pid) && isRedisOn(redis.pid, redis.port)) {
      let redisDir: string | undefined;
      try {
        redisDir = readlinkSync(`/proc/${redis.pid}/cwd`);
      } catch {
        redisDir = undefined;
      }
      process.kill(redis.pid, 'SIGTERM');
      done.push(`stopped redis-server ${redis.pid} (port ${redis.port}) of an interrupted run`);
      if (redisDir && basename(redisDir).startsWith(REDIS_DIR_PREFIX) && existsSync(redisDir)) rmSync(redisDir, { recursive: true, force: true });
    }
    rmSync(dir, { recursive: true, force: true });
    done.push(`removed ${dir} of an interrupted run`);
  }
  return done;
}

/** A fresh temp folder owned by this process. */
export function createRunDir(): { dir: string; setRedis(pid: number | undefined, port: number): void } {
  const dir = mkdtempSync(join(tmpdir(), PREFIX));
  const write = (owner: Owner) => writeFileSync(join(dir, OWNER_FILE), JSON.stringify(owner));
  write({ pid: process.pid });
  return {
    dir,
    setRedis(pid, port) {
      if (pid !== undefined) write({ pid: process.pid, redis: { pid, port } });
    },
  };
}
