/**
 * Schema migrations, run at start. Written with Kysely's schema builder so that
 * one definition serves SQLite and PostgreSQL. Times are epoch milliseconds in a
 * bigint and money is integer cents: the same SQL buckets and sums them exactly
 * on both databases.
 */
import { Migrator, PostgresAdapter, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

const migrations: Record<string, Migration> = {
  '0001_initial': {
    async up(db) {
      await db.schema
        .createTable('tenants')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('currency', 'text', (c) => c.notNull())
        .addColumn('home_region', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('products')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('price_cents', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('products_pk', ['tenant_id', 'id'])
        .execute();
      await db.schema
        .createTable('orders')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('product_id', 'text', (c) => c.notNull())
        .addColumn('customer_id', 'text', (c) => c.notNull())
        .addColumn('amount_cents', 'bigint', (c) => c.notNull())
        .addColumn('region', 'text', (c) => c.notNull())
        .addColumn('occurred_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('orders_pk', ['tenant_id', 'id'])
        .execute();
      await db.schema
        .createTable('sessions')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('visitor_id', 'text', (c) => c.notNull())
        .addColumn('region', 'text', (c) => c.notNull())
        .addColumn('occurred_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('sessions_pk', ['tenant_id', 'id'])
        .execute();
      // Every aggregation filters on tenant and a time span, optionally region, and reads
      // a few columns: these indexes cover those queries, so a 90-day span of one tenant
      // is an index range scan that never touches the table.
      await db.schema
        .createIndex('orders_tenant_time')
        .on('orders')
        .columns(['tenant_id', 'occurred_at', 'region', 'amount_cents', 'customer_id', 'product_id'])
        .execute();
      await db.schema
        .createIndex('orders_tenant_region_time')
        .on('orders')
        .columns(['tenant_id', 'region', 'occurred_at', 'amount_cents', 'customer_id', 'product_id'])
        .execute();
      await db.schema.createIndex('sessions_tenant_time').on('sessions').columns(['tenant_id', 'occurred_at', 'region']).execute();
      await db.schema.createIndex('sessions_tenant_region_time').on('sessions').columns(['tenant_id', 'region', 'occurred_at']).execute();
      await db.schema
        .createTable('meta')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
    },
  },
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

/**
 * The PostgreSQL schema the connection works in (its search_path's first), or
 * undefined on SQLite. Kysely's migrator looks its own tables up in every schema
 * unless told which one: in a database shared by several schemas (one per test, or
 * per service) it would find another schema's lock table, skip creating its own,
 * and fail with "relation kysely_migration_lock does not exist".
 */
async function currentSchema<DB>(db: Kysely<DB>): Promise<string | undefined> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return undefined;
  const { rows } = await sql<{ schema: string | null }>`SELECT current_schema() AS schema`.execute(db);
  return rows[0]?.schema ?? undefined;
}

/** Brings the schema up to date; throws with the failing migration's name. */
export async function migrate<DB>(db: Kysely<DB>): Promise<void> {
  const migrationTableSchema = await currentSchema(db);
  const { error, results } = await new Migrator({
    db,
    provider,
    ...(migrationTableSchema ? { migrationTableSchema } : {}),
  }).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`database migration ${failed} failed: ${(error as Error).message ?? error}`, { cause: error });
  }
}
