/**
 * Opens the source database named by the config: embedded SQLite (better-sqlite3)
 * or PostgreSQL (pg), both behind Kysely so that one set of queries serves both.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, type PostgresPool, type PostgresPoolClient, type PostgresQueryResult } from 'kysely';
import pg from 'pg';
import type { DatabaseConfig } from '../config/index.js';
import type { Tables } from './tables.js';

/** How `openDatabase` bounds what it sends. */
export interface DatabaseOptions {
  /**
   * PostgreSQL only: longest a statement may run, in ms (DATABASE_QUERY_TIMEOUT_MS). The
   * server cancels it then (`statement_timeout`), which also ends a wait on a lock; a server
   * that answers nothing at all (hung, unreachable) is given `QUERY_BOUND_GRACE_MS` more,
   * then the query fails here and its connection is destroyed, never reused. Getting a
   * connection waits at most this long too (5 s when that is less). Absent: no bound of
   * our own (the seed CLI, whose deletes may rightly take long).
   */
  queryTimeoutMs?: number | undefined;
}

/**
 * What a hung server is given past `queryTimeoutMs` before the client gives up: enough for
 * the server's own cancel to arrive first whenever the server runs at all, so that a
 * connection is destroyed only when it must be.
 */
export const QUERY_BOUND_GRACE_MS = 1_000;

/** Raised when PostgreSQL answers nothing within the bound; the message carries no SQL. */
export class QueryTimeoutError extends Error {
  override name = 'QueryTimeoutError';
  constructor(readonly boundMs: number) {
    super(`the source database answered nothing within ${boundMs} ms (DATABASE_QUERY_TIMEOUT_MS + grace); its connection was closed`);
  }
}

/** A Kysely handle over the source tables, tagged with the dialect in use. */
export interface Database {
  readonly db: Kysely<Tables>;
  readonly kind: DatabaseConfig['kind'];
  /** Answers when the database does; used by /readyz. */
  ping(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

// PostgreSQL returns bigint and numeric as strings to protect precision. Our bigints
// are epoch milliseconds and cent sums, far below 2^53, so numbers are exact.
const INT8 = 20;
const NUMERIC = 1700;
pg.types.setTypeParser(INT8, (v) => Number(v));
pg.types.setTypeParser(NUMERIC, (v) => Number(v));

/**
 * A pool client whose queries fail after `boundMs` whatever the server does. pg's own
 * `query_timeout` rejects the promise but leaves the query active on the connection,
 * which the pool would then hand out again, busy; here a query that ran out of time marks
 * its client broken, and releasing a broken client destroys it (pg-pool removes a client
 * released with an error, and pg cuts the socket of a client ended mid-query).
 */
function boundedClient(client: pg.PoolClient, boundMs: number): PostgresPoolClient {
  let broken: QueryTimeoutError | undefined;
  const query = (text: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<unknown>> => {
    if (broken) return Promise.reject(broken);
    const pending = client.query(text, [...parameters]) as unknown as Promise<PostgresQueryResult<unknown>>;
    // Once the bound has passed nobody awaits it; it settles when the socket is cut.
    pending.catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject((broken = new QueryTimeoutError(boundMs))), boundMs);
    });
    return Promise.race([pending, expired]).finally(() => clearTimeout(timer));
  };
  return {
    query: query as PostgresPoolClient['query'],
    release(destroy) {
      client.release(broken ?? destroy);
    },
  };
}

/** The pool as Kysely sees it: each client bounded, one wrapper per pg client (Kysely keys its connections by client). */
function boundedPool(pool: pg.Pool, boundMs: number): PostgresPool {
  const wrappers = new WeakMap<pg.PoolClient, PostgresPoolClient>();
  return {
    async connect() {
      const client = await pool.connect();
      let wrapper = wrappers.get(client);
      if (!wrapper) wrappers.set(client, (wrapper = boundedClient(client, boundMs)));
      return wrapper;
    },
    end: () => pool.end(),
  };
}

/**
 * Opens the configured database: SQLite at `config.path` (its directory created, WAL
 * mode), or a PostgreSQL pool of at most 10 connections on `config.url`, its statements
 * bounded by `options.queryTimeoutMs`. Does not connect to PostgreSQL yet and does not
 * migrate (migrations.ts does).
 */
export function openDatabase(config: DatabaseConfig, options: DatabaseOptions = {}): Database {
  if (config.kind === 'sqlite') {
    if (config.path !== ':memory:') mkdirSync(dirname(config.path), { recursive: true });
    const handle = new SQLite(config.path);
    // WAL lets readers go on while a writer commits; NORMAL sync is durable enough for
    // a demo database and several times faster to seed.
    handle.pragma('journal_mode = WAL');
    handle.pragma('synchronous = NORMAL');
    handle.pragma('busy_timeout = 5000');
    const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database: handle }) });
    return {
      db,
      kind: 'sqlite',
      async ping() {
        try {
          handle.prepare('SELECT 1').get();
          return true;
        } catch {
          return false;
        }
      },
      close: () => db.destroy(),
    };
  }
  const { queryTimeoutMs } = options;
  const pool = new pg.Pool({
    connectionString: config.url,
    max: 10,
    connectionTimeoutMillis: Math.min(5_000, queryTimeoutMs ?? 5_000),
    idleTimeoutMillis: 30_000,
    // Sent at connection start-up: the server cancels a statement (a lock wait included)
    // after this, and the connection stays usable.
    ...(queryTimeoutMs !== undefined ? { statement_timeout: queryTimeoutMs } : {}),
  });
  // An idle client that loses its server emits 'error' on the pool; without a
  // listener Node would crash the process. The next query reports the outage.
  pool.on('error', () => {});
  const db = new Kysely<Tables>({
    dialect: new PostgresDialect({
      pool: queryTimeoutMs === undefined ? pool : boundedPool(pool, queryTimeoutMs + QUERY_BOUND_GRACE_MS),
    }),
  });
  return {
    db,
    kind: 'postgres',
    async ping(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      try {
        return await Promise.race([
          // Straight on the pool, bounded by the probe's own timeout: a probe of a hung
          // server destroys its connection then, rather than holding it for the query bound.
          (async () => {
            const client = boundedClient(await pool.connect(), timeoutMs);
            try {
              await client.query('SELECT 1', []);
              return true;
            } finally {
              client.release();
            }
          })(),
          new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
        ]);
      } catch {
        return false;
      } finally {
        clearTimeout(timer);
      }
    },
    close: () => db.destroy(),
  };
}
