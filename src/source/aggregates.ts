/**
 * Aggregations over the source rows, each computed per bucket in SQL for a whole
 * span of buckets in one query. The same SQL text runs on SQLite and PostgreSQL:
 * times are integer epoch milliseconds, so a bucket is integer division.
 *
 * The source offers a small vocabulary of query shapes; what each metric measures
 * (its SQL expression, its table) is written in the metric's declaration, so that
 * adding a metric does not touch this file.
 */
import { sql, type RawBuilder } from 'kysely';
import { BUCKET_MS, type BucketWindow } from '../cache/buckets.js';
import type { Database } from './database.js';
import type { DataScope } from './types.js';

/** Tables that hold timed rows (each has `tenant_id`, `region` and `occurred_at`). */
export type EventTable = 'orders' | 'sessions';

/** One bucket's value. */
export interface BucketValue {
  bucket: number;
  value: number;
}

/** One member (a customer id, say) seen in one bucket. */
export interface BucketMember {
  bucket: number;
  member: string;
}

/** One group's measures inside one bucket. */
export interface BucketGroup {
  bucket: number;
  group: string;
  values: Record<string, number>;
}

/** `SELECT <value> … GROUP BY bucket`: one number per bucket. */
export interface ValueQuery {
  readonly from: EventTable;
  /** An aggregate SQL expression over the table's columns, e.g. sql`SUM(amount_cents)`. */
  readonly value: RawBuilder<unknown>;
}

/** Every distinct value of `column` per bucket. */
export interface MembersQuery {
  readonly from: EventTable;
  /** A column name of the table, e.g. `customer_id`. */
  readonly member: string;
}

/** Per bucket and per value of `by`: each named aggregate expression. */
export interface GroupQuery {
  readonly from: EventTable;
  /** The grouping column, e.g. `product_id`. */
  readonly by: string;
  /** Measure name → aggregate SQL expression, e.g. `{ orders: sql\`COUNT(*)\` }`. */
  readonly values: Readonly<Record<string, RawBuilder<unknown>>>;
}

/** Where a group's display name is looked up: `SELECT <label> FROM <from> WHERE tenant_id = ? AND <key> IN (…)`. */
export interface LabelQuery {
  readonly from: 'products';
  readonly key: string;
  readonly label: string;
}

/**
 * Everything the metrics service may ask the source. Each method sends exactly one
 * query; buckets with no rows are absent from the result.
 */
export interface AggregateSource {
  /** One aggregate value per bucket. */
  valuesPerBucket(query: ValueQuery, scope: DataScope, window: BucketWindow): Promise<BucketValue[]>;
  /** Each distinct member per bucket, once per bucket. */
  membersPerBucket(query: MembersQuery, scope: DataScope, window: BucketWindow): Promise<BucketMember[]>;
  /** Distinct members over the whole window (the exact count a sketch estimates). */
  distinctMembers(query: MembersQuery, scope: DataScope, window: BucketWindow): Promise<number>;
  /** Each group's measures per bucket. */
  groupsPerBucket(query: GroupQuery, scope: DataScope, window: BucketWindow): Promise<BucketGroup[]>;
  /** Display names of a tenant's groups, by key; absent keys have no row. */
  labels(query: LabelQuery, tenant: string, keys: readonly string[]): Promise<Map<string, string>>;
}

/** Identifiers come from declarations, never from callers; still, only plain names pass. */
function column(name: string): RawBuilder<unknown> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new RangeError(`not a column name: "${name}"`);
  return sql.ref(name);
}

/** Builds the source's queries over an open database. */
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

  return {
    async valuesPerBucket(query, scope, window) {
      const { rows } = await sql<{ bucket: number | string; value: number | string }>`
        SELECT ${bucketOf(window)} AS bucket, ${query.value} AS value
        FROM ${sql.table(query.from)}
        WHERE ${where(scope, window)}
        GROUP BY 1
        ORDER BY 1`.execute(db);
      return rows.map((r) => ({ bucket: Number(r.bucket), value: Number(r.value) }));
    },

    async membersPerBucket(query, scope, window) {
      const { rows } = await sql<{ bucket: number | string; member: string }>`
        SELECT ${bucketOf(window)} AS bucket, ${column(query.member)} AS member
        FROM ${sql.table(query.from)}
        WHERE ${where(scope, window)}
        GROUP BY 1, 2
        ORDER BY 1, 2`.execute(db);
      return rows.map((r) => ({ bucket: Number(r.bucket), member: r.member }));
    },

    async distinctMembers(query, scope, window) {
      const { rows } = await sql<{ value: number | string }>`
        SELECT COUNT(DISTINCT ${column(query.member)}) AS value FROM ${sql.table(query.from)} WHERE ${where(scope, window)}`.execute(db);
      return Number(rows[0]?.value ?? 0);
    },

    async groupsPerBucket(query, scope, window) {
      const names = Object.keys(query.values);
      const measures = sql.join(names.map((name, i) => sql`${query.values[name]} AS ${sql.ref(`m${i}`)}`));
      const { rows } = await sql<Record<string, number | string>>`
        SELECT ${bucketOf(window)} AS bucket, ${column(query.by)} AS grp, ${measures}
        FROM ${sql.table(query.from)}
        WHERE ${where(scope, window)}
        GROUP BY 1, 2
        ORDER BY 1, 2`.execute(db);
      return rows.map((r) => ({
        bucket: Number(r.bucket),
        group: String(r.grp),
        values: Object.fromEntries(names.map((name, i) => [name, Number(r[`m${i}`])])),
      }));
    },

    async labels(query, tenant, keys) {
      if (keys.length === 0) return new Map();
      const { rows } = await sql<{ k: string; label: string }>`
        SELECT ${column(query.key)} AS k, ${column(query.label)} AS label
        FROM ${sql.table(query.from)}
        WHERE tenant_id = ${tenant} AND ${column(query.key)} IN (${sql.join([...keys])})`.execute(db);
      return new Map(rows.map((r) => [r.k, r.label]));
    },
  };
}
