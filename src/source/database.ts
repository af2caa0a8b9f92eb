/**
 * Opens the source database named by the config: embedded SQLite (better-sqlite3)
 * or PostgreSQL (pg), both behind Kysely so that one set of queries serves both.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import type { DatabaseConfig } from '../config/index.js';
import type { Tables } from './tables.js';

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
 * Opens the configured database: SQLite at `config.path` (its directory created, WAL
 * mode), or a PostgreSQL pool of at most 10 connections on `config.url`. Does not connect
 * to PostgreSQL yet and does not migrate (migrations.ts does).
 */
export function openDatabase(config: DatabaseConfig): Database {
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
  const pool = new pg.Pool({
    connectionString: config.url,
    max: 10,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client that loses its server emits 'error' on the pool; without a
  // listener Node would crash the process. The next query reports the outage.
  pool.on('error', () => {});
  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    kind: 'postgres',
    async ping(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      try {
        return await Promise.race([
          sql`SELECT 1`.execute(db).then(() => true),
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
