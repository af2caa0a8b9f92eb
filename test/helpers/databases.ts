/**
 * Private databases for one test file: a temporary SQLite file, or a schema of its
 * own in the shared PostgreSQL (dropped afterwards; never anyone else's data).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import type { DatabaseConfig } from '../../src/config/index.js';
import { openDatabase, type Database } from '../../src/source/database.js';
import { migrate } from '../../src/source/migrations.js';
import { seed, type SeedOptions } from '../../src/source/seed.js';
import { createPostgresSchema } from './services.js';

/** Which database a test runs on: a temporary SQLite file, or a private schema in the run's PostgreSQL. */
export type DatabaseKind = 'sqlite' | 'postgres';

/** A test's private database, empty until migrated; `drop` deletes it (file or schema). */
export interface TestDatabase {
  config: DatabaseConfig;
  /** The DATABASE_URL a child process would use. */
  url: string;
  drop(): Promise<void>;
}

/**
 * A private, empty database of `kind`: a SQLite file in a new temporary folder, or a new
 * schema `t_<random>` in the PostgreSQL that global-setup provides, which its URL selects
 * through `search_path`. Rejects when PostgreSQL does not answer.
 */
export async function createTestDatabase(kind: DatabaseKind): Promise<TestDatabase> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'dashboard-api-sqlite-'));
    const path = join(dir, 'test.sqlite');
    return { config: { kind: 'sqlite', path }, url: `sqlite:${path}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const schema = await createPostgresSchema(inject('postgresUrl'));
  return { config: { kind: 'postgres', url: schema.url }, url: schema.url, drop: schema.drop };
}

/** A private database of `kind`, migrated and seeded, with an open handle on it. */
export async function createSeededDatabase(kind: DatabaseKind, options: SeedOptions): Promise<{ test: TestDatabase; database: Database }> {
  const test = await createTestDatabase(kind);
  const database = openDatabase(test.config);
  await migrate(database.db);
  await seed(database, options);
  return { test, database };
}
