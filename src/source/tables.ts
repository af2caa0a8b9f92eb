/** Kysely table types: the database's own column names and types. */

/** The source tables as Kysely sees them: snake_case columns; money in integer cents, times in epoch ms. */
export interface Tables {
  tenants: { id: string; name: string; currency: string; home_region: string };
  products: { tenant_id: string; id: string; name: string; price_cents: number };
  orders: {
    tenant_id: string;
    id: string;
    product_id: string;
    customer_id: string;
    amount_cents: number;
    region: string;
    /** Epoch milliseconds; bigint in PostgreSQL, integer in SQLite. */
    occurred_at: number;
  };
  sessions: { tenant_id: string; id: string; visitor_id: string; region: string; occurred_at: number };
  /** Small key/value facts about the database itself (seed parameters). */
  meta: { key: string; value: string };
}
