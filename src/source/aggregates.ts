/**
 * Aggregations over the source rows, each computed per bucket in SQL for a whole
 * span of buckets in one query. The same SQL text runs on SQLite and PostgreSQL:
 * times are integer epoch milliseconds, so a bucket is integer division.
 */
import { sql, type RawBuilder } from 'kysely';
import { BUCKET_MS, type BucketWindow } from '../cache/buckets.js';
import type { Database } from './database.js';
import type { DataScope } from './types.js';

/** One bucket's value. */
export interface BucketValue {
  bucket: number;
  value: number;
}

/** One product's sales inside one bucket. */
export interface ProductBucketValue {
  bucket: number;
  productId: string;
  orders: number;
  revenueCents: number;
}

/**
 * Everything the metrics service may ask the source. Each method sends exactly one
 * query; buckets with no rows are absent from the result.
 */
export interface AggregateSource {
  /** Sum of order amounts per bucket, in cents. */
  revenueCents(scope: DataScope, window: BucketWindow): Promise<BucketValue[]>;
  /** Number of orders per bucket. */
  orderCount(scope: DataScope, window: BucketWindow): Promise<BucketValue[]>;
  /** Number of sessions per bucket. */
  sessionCount(scope: DataScope, window: BucketWindow): Promise<BucketValue[]>;
  /** Each customer with an order in a bucket, once per bucket. */
  customersByBucket(scope: DataScope, window: BucketWindow): Promise<Array<{ bucket: number; customerId: string }>>;
  /** Distinct customers over the whole window. */
  distinctCustomers(scope: DataScope, window: BucketWindow): Promise<number>;
  /** Per product and bucket: orders and revenue. */
  productSales(scope: DataScope, window: BucketWindow): Promise<ProductBucketValue[]>;
  /** Names of the tenant's products, by id. */
  productNames(tenant: string, ids: readonly string[]): Promise<Map<string, string>>;
}

export function createAggregateSource(database: Database): AggregateSource {
  const { db } = database;

  // The bucket size is a literal, not a parameter: PostgreSQL then does bigint
  // division without having to guess the parameter's type.
  const bucketOf = (window: BucketWindow): RawBuilder<number> => {
    const size = sql.lit(BUCKET_MS[window.granularity]);
    return sql<number>`(occurred_at / ${size}) * ${size}`;
  };
  const where = (scope: DataScope, window: BucketWindow): RawBuilder<unknown> =>
    scope.region === undefined
      ? sql`tenant_id = ${scope.tenant} AND occurred_at >= ${window.from} AND occurred_at < ${window.to}`
      : sql`tenant_id = ${scope.tenant} AND region = ${scope.region} AND occurred_at >= ${window.from} AND occurred_at < ${window.to}`;

  async function perBucket(table: 'orders' | 'sessions', measure: RawBuilder<unknown>, scope: DataScope, window: BucketWindow) {
    const { rows } = await sql<{ bucket: number | string; value: number | string }>`
      SELECT ${bucketOf(window)} AS bucket, ${measure} AS value
      FROM ${sql.table(table)}
      WHERE ${where(scope, window)}
      GROUP BY 1
      ORDER BY 1`.execute(db);
    return rows.map((r) => ({ bucket: Number(r.bucket), value: Number(r.value) }));
  }

  return {
    revenueCents: (scope, window) => perBucket('orders', sql`SUM(amount_cents)`, scope, window),
    orderCount: (scope, window) => perBucket('orders', sql`COUNT(*)`, scope, window),
    sessionCount: (scope, window) => perBucket('sessions', sql`COUNT(*)`, scope, window),

    async customersByBucket(scope, window) {
      const { rows } = await sql<{ bucket: number | string; customer_id: string }>`
        SELECT ${bucketOf(window)} AS bucket, customer_id
        FROM orders
        WHERE ${where(scope, window)}
        GROUP BY 1, 2
        ORDER BY 1, 2`.execute(db);
      return rows.map((r) => ({ bucket: Number(r.bucket), customerId: r.customer_id }));
    },

    async distinctCustomers(scope, window) {
      const { rows } = await sql<{ value: number | string }>`
        SELECT COUNT(DISTINCT customer_id) AS value FROM orders WHERE ${where(scope, window)}`.execute(db);
      return Number(rows[0]?.value ?? 0);
    },

    async productSales(scope, window) {
      const { rows } = await sql<{ bucket: number | string; product_id: string; orders: number | string; revenue: number | string }>`
        SELECT ${bucketOf(window)} AS bucket, product_id, COUNT(*) AS orders, SUM(amount_cents) AS revenue
        FROM orders
        WHERE ${where(scope, window)}
        GROUP BY 1, 2
        ORDER BY 1, 2`.execute(db);
      return rows.map((r) => ({
        bucket: Number(r.bucket),
        productId: r.product_id,
        orders: Number(r.orders),
        revenueCents: Number(r.revenue),
      }));
    },

    async productNames(tenant, ids) {
      if (ids.length === 0) return new Map();
      const rows = await db
        .selectFrom('products')
        .select(['id', 'name'])
        .where('tenant_id', '=', tenant)
        .where('id', 'in', [...ids])
        .execute();
      return new Map(rows.map((r) => [r.id, r.name]));
    },
  };
}
