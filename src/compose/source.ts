/**
 * The source part: the database named by DATABASE_URL, migrated, seeded on first
 * start, and the two ways the service uses it (aggregates for reads, writes).
 */
import type { Config } from '../config/index.js';
import type { Logger } from '../observability/logger.js';
import { createAggregateSource, type AggregateSource } from '../source/aggregates.js';
import { openDatabase, type Database } from '../source/database.js';
import { migrate } from '../source/migrations.js';
import { isSeeded, seed, type SeedOptions } from '../source/seed.js';
import { createWriteSource, type WriteSource } from '../source/writes.js';
import type { Lifecycle } from './lifecycle.js';

/** What `openSource` opens: the database, and its read side (aggregates) and write side. */
export interface SourcePart {
  database: Database;
  aggregates: AggregateSource;
  writes: WriteSource;
}

/** What `openSource` needs besides the config. */
export interface SourceOptions {
  logger: Logger;
  /** Demo data to write when the database is empty; `false` writes none. @default the contract's demo data */
  seed?: SeedOptions | false | undefined;
}

/** Opens, migrates and (when empty) seeds the database; its closer is registered first. */
export async function openSource(config: Config, options: SourceOptions, lifecycle: Lifecycle): Promise<SourcePart> {
  const database = openDatabase(config.database, { queryTimeoutMs: config.databaseQueryTimeoutMs });
  lifecycle.defer('database', () => database.close());
  await migrate(database.db);
  if (options.seed !== false && !(await isSeeded(database))) {
    options.logger.info({ database: database.kind }, 'empty database: seeding deterministic demo data');
    await seed(database, options.seed ?? {});
  }
  return { database, aggregates: createAggregateSource(database), writes: createWriteSource(database) };
}
