/**
 * The page's panels, one per field of `Dashboard`, and which metrics each shows: a
 * notice names metrics, the page refetches the fields that show them, and a field's
 * cache details are those of the metrics it reads. Typed from the generated
 * operations, so a field or metric the schema adds or drops fails type-checking here.
 */
import type { DashboardPageQuery, MetricName } from './gql/graphql.js';

/** The page's full answer for its range. */
export type DashboardData = DashboardPageQuery['dashboard'];

/** A field of `Dashboard` that a panel shows (everything but the range and granularity). */
export type PanelField = Exclude<keyof DashboardData, 'range' | 'granularity'>;

/** Every panel, in the order the page lays them out. */
export const PANEL_FIELDS = [
  'revenue',
  'orders',
  'sessions',
  'customers',
  'averageOrderValue',
  'conversionRate',
  'topProducts',
  'revenueIn',
] as const satisfies readonly PanelField[];

// Both directions: a new Dashboard field the page's query selects must get a panel.
const everyFieldHasAPanel: PanelField extends (typeof PANEL_FIELDS)[number] ? true : never = true;
void everyFieldHasAPanel;

/** The panels that draw a chart of a series (`total` and `points`). */
export const SERIES_FIELDS = ['revenue', 'orders', 'sessions', 'customers'] as const satisfies readonly PanelField[];
/** One of `SERIES_FIELDS`. */
export type SeriesField = (typeof SERIES_FIELDS)[number];

/** True for a field whose panel is a chart. */
export const isSeries = (field: PanelField): field is SeriesField => (SERIES_FIELDS as readonly string[]).includes(field);

/**
 * The panels that show each metric, as the declarations say (src/metrics/definitions.ts):
 * revenue is also shown converted (`revenueIn`) and per product (`topProducts.revenue`).
 */
export const FIELDS_OF: Readonly<Record<MetricName, readonly PanelField[]>> = {
  REVENUE: ['revenue', 'revenueIn', 'topProducts'],
  ORDERS: ['orders'],
  SESSIONS: ['sessions'],
  CUSTOMERS: ['customers'],
  AVERAGE_ORDER_VALUE: ['averageOrderValue'],
  CONVERSION_RATE: ['conversionRate'],
  TOP_PRODUCTS: ['topProducts'],
};

/**
 * The stored metrics whose buckets each panel reads, as `extensions.cache` names them:
 * a derived value (average order value, conversion rate) reads its inputs' buckets.
 */
export const METRICS_READ_BY: Readonly<Record<PanelField, readonly MetricName[]>> = {
  revenue: ['REVENUE'],
  orders: ['ORDERS'],
  sessions: ['SESSIONS'],
  customers: ['CUSTOMERS'],
  averageOrderValue: ['REVENUE', 'ORDERS'],
  conversionRate: ['ORDERS', 'SESSIONS'],
  topProducts: ['TOP_PRODUCTS'],
  revenueIn: ['REVENUE'],
};

/** The panels that show any of `metrics`, in layout order. */
export function fieldsShowing(metrics: readonly MetricName[]): PanelField[] {
  const wanted = new Set(metrics.flatMap((m) => FIELDS_OF[m]));
  return PANEL_FIELDS.filter((field) => wanted.has(field));
}

/** What a person reads as each panel's title. */
export const TITLES: Readonly<Record<PanelField, string>> = {
  revenue: 'Revenue',
  orders: 'Orders',
  sessions: 'Sessions',
  customers: 'Customers',
  averageOrderValue: 'Average order value',
  conversionRate: 'Conversion rate',
  topProducts: 'Top products',
  revenueIn: 'Revenue converted',
};
