/**
 * Writes to the source. Inserts are idempotent on (tenant, id), so that an event
 * delivered twice is written once; the caller learns whether a row was new.
 */
import type { Database } from './database.js';
import { isRegion, type OrderRow, type ProductRow, type SessionRow, type TenantRow } from './types.js';

/** The write side of the source, and the lookups writes need. */
export interface WriteSource {
  /** The tenant, or undefined when no such tenant exists. */
  tenant(id: string): Promise<TenantRow | undefined>;
  /** The tenant's product `id`, or undefined when the tenant has none such. */
  product(tenant: string, id: string): Promise<ProductRow | undefined>;
  /** Inserts the order unless one with its id exists; true when it was inserted. */
  insertOrder(row: OrderRow): Promise<boolean>;
  /** Inserts the session unless one with its id exists; true when it was inserted. */
  insertSession(row: SessionRow): Promise<boolean>;
}

/** The write source over `database`. A stored home region that is not a region reads as `NA`. */
export function createWriteSource({ db }: Database): WriteSource {
  return {
    async tenant(id) {
      const row = await db.selectFrom('tenants').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) return undefined;
      return {
        id: row.id,
        name: row.name,
        currency: row.currency,
        homeRegion: isRegion(row.home_region) ? row.home_region : 'NA',
      };
    },
    async product(tenant, id) {
      const row = await db.selectFrom('products').selectAll().where('tenant_id', '=', tenant).where('id', '=', id).executeTakeFirst();
      return row && { tenantId: row.tenant_id, id: row.id, name: row.name, priceCents: Number(row.price_cents) };
    },
    async insertOrder(row) {
      const result = await db
        .insertInto('orders')
        .values({
          tenant_id: row.tenantId,
          id: row.id,
          product_id: row.productId,
          customer_id: row.customerId,
          amount_cents: row.amountCents,
          region: row.region,
          occurred_at: row.occurredAt,
        })
        .onConflict((oc) => oc.columns(['tenant_id', 'id']).doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
    },
    async insertSession(row) {
      const result = await db
        .insertInto('sessions')
        .values({
          tenant_id: row.tenantId,
          id: row.id,
          visitor_id: row.visitorId,
          region: row.region,
          occurred_at: row.occurredAt,
        })
        .onConflict((oc) => oc.columns(['tenant_id', 'id']).doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
    },
  };
}
