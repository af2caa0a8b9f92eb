/**
 * Every metric of the dashboard, declared once (see define.ts for what a
 * declaration holds). Adding a metric is a declaration here, its field in schema/,
 * and its value in the `MetricName` enum; the start-up check names whatever is
 * missing.
 */
import { sql } from 'kysely';
import type { Role } from '../auth/identity.js';
import { defineDerived, defineDistinct, defineSum, defineTopN, type MetricDefinition } from './define.js';
import type { ProductSalesModel } from './types.js';

/** Roles that see money. */
const MONEY: readonly Role[] = ['ADMIN', 'ANALYST'];

/**
 * `Dashboard.revenue`: the sum of order amounts in the tenant's currency, major units
 * (stored as cents). ADMIN and ANALYST only.
 */
export const REVENUE = defineSum({
  name: 'REVENUE',
  field: 'Dashboard.revenue',
  version: 1,
  events: ['order.recorded'],
  readableBy: MONEY,
  // revenueIn converts it; a product's revenue is a share of it.
  alsoShownIn: ['Dashboard.revenueIn', 'ProductSales.revenue'],
  query: { from: 'orders', value: sql`SUM(amount_cents)` },
  unit: 100,
});

/** `Dashboard.orders`: the number of orders. */
export const ORDERS = defineSum({
  name: 'ORDERS',
  field: 'Dashboard.orders',
  version: 1,
  events: ['order.recorded'],
  query: { from: 'orders', value: sql`COUNT(*)` },
  unit: 1,
});

/** `Dashboard.sessions`: the number of sessions. */
export const SESSIONS = defineSum({
  name: 'SESSIONS',
  field: 'Dashboard.sessions',
  version: 1,
  events: ['session.recorded'],
  query: { from: 'sessions', value: sql`COUNT(*)` },
  unit: 1,
});

/**
 * `Dashboard.customers`: distinct customers who ordered; a range's total merges the
 * buckets' sketches, so a customer counts once.
 */
export const CUSTOMERS = defineDistinct({
  name: 'CUSTOMERS',
  field: 'Dashboard.customers',
  version: 1,
  events: ['order.recorded'],
  query: { from: 'orders', member: 'customer_id' },
});

/**
 * `Dashboard.topProducts(limit:)`: products ranked by orders over the range, with their
 * orders and revenue (major units); `limit` 5 by default, at most 50.
 */
export const TOP_PRODUCTS = defineTopN<ProductSalesModel>({
  name: 'TOP_PRODUCTS',
  field: 'Dashboard.topProducts',
  version: 1,
  events: ['order.recorded'],
  query: { from: 'orders', by: 'product_id', values: { orders: sql`COUNT(*)`, revenueCents: sql`SUM(amount_cents)` } },
  labels: { from: 'products', key: 'id', label: 'name' },
  // By orders, so that a VIEWER (who may not see revenue) sees the same list.
  rankBy: 'orders',
  limit: { default: 5, max: 50 },
  present: (productId, m, name) => ({ productId, name, orders: m.orders ?? 0, revenue: (m.revenueCents ?? 0) / 100 }),
});

/** `Dashboard.averageOrderValue`: revenue ÷ orders over the range; null without orders. Readable as revenue is. */
export const AVERAGE_ORDER_VALUE = defineDerived({
  name: 'AVERAGE_ORDER_VALUE',
  field: 'Dashboard.averageOrderValue',
  version: 1,
  inputs: ['REVENUE', 'ORDERS'],
  formula: ([revenue, orders]) => (orders ? revenue! / orders : null),
});

/** `Dashboard.conversionRate`: orders ÷ sessions over the range; null without sessions. */
export const CONVERSION_RATE = defineDerived({
  name: 'CONVERSION_RATE',
  field: 'Dashboard.conversionRate',
  version: 1,
  inputs: ['ORDERS', 'SESSIONS'],
  formula: ([orders, sessions]) => (sessions ? orders! / sessions : null),
});

/** The dashboard's metrics, in the order the `MetricName` enum lists them. */
export const DASHBOARD_METRICS: readonly MetricDefinition[] = Object.freeze([
  REVENUE,
  ORDERS,
  SESSIONS,
  CUSTOMERS,
  AVERAGE_ORDER_VALUE,
  CONVERSION_RATE,
  TOP_PRODUCTS,
]);
