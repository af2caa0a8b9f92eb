/** Row shapes of the source database, as the rest of the service sees them. */

/** Regions a row can belong to. */
export const REGIONS = ['EU', 'NA', 'APAC'] as const;
/** One of `REGIONS`. */
export type Region = (typeof REGIONS)[number];

/** True when `value` is one of `REGIONS`, exactly (case-sensitive). */
export function isRegion(value: string): value is Region {
  return (REGIONS as readonly string[]).includes(value);
}

/** An order as stored; money in integer cents so that SQLite and PostgreSQL sum identically. */
export interface OrderRow {
  tenantId: string;
  id: string;
  productId: string;
  customerId: string;
  amountCents: number;
  region: Region;
  /** Epoch milliseconds, UTC. */
  occurredAt: number;
}

/** A session as stored: one visit of one visitor. */
export interface SessionRow {
  tenantId: string;
  id: string;
  visitorId: string;
  region: Region;
  /** Epoch milliseconds, UTC. */
  occurredAt: number;
}

/** A product of a tenant, with its list price in integer cents. */
export interface ProductRow {
  tenantId: string;
  id: string;
  name: string;
  priceCents: number;
}

/** A tenant as stored. */
export interface TenantRow {
  id: string;
  name: string;
  /** ISO 4217 code the tenant's amounts are in. */
  currency: string;
  /** Region a write lands in when neither the token nor the input names one. */
  homeRegion: Region;
}

/**
 * The data a caller may see: always one tenant, and one region when the token
 * names one. Comes only from the verified token.
 */
export interface DataScope {
  readonly tenant: string;
  readonly region?: Region | undefined;
}
