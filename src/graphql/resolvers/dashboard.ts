/** Dashboard fields: authorize from the token, then ask the metrics reader. Nothing else. */
import { assertCanRead } from '../../auth/policy.js';
import { validateLimit } from '../../domain/validation.js';
import { TOP_PRODUCTS_MAX } from '../../metrics/service.js';
import { normaliseCurrency } from '../../vendors/fx.js';
import type { DashboardResolvers, ProductSalesResolvers, QueryResolvers } from '../resolvers.generated.js';
import { scopeOf } from '../../auth/identity.js';
import { validateRange } from '../../domain/validation.js';

export const Query: QueryResolvers = {
  dashboard(_, { range, granularity }, { identity }) {
    const g = granularity ?? 'HOUR';
    return { scope: scopeOf(identity), window: validateRange(range.from, range.to, g, 'range') };
  },
};

export const Dashboard: DashboardResolvers = {
  range: ({ window }) => ({ from: window.from, to: window.to }),
  granularity: ({ window }) => window.granularity,
  revenue({ scope, window }, _, { identity, metrics }) {
    assertCanRead(identity, 'Dashboard.revenue');
    return metrics.revenue(scope, window);
  },
  orders: ({ scope, window }, _, { metrics }) => metrics.orders(scope, window),
  sessions: ({ scope, window }, _, { metrics }) => metrics.sessions(scope, window),
  customers: ({ scope, window }, _, { metrics }) => metrics.customers(scope, window),
  averageOrderValue({ scope, window }, _, { identity, metrics }) {
    assertCanRead(identity, 'Dashboard.averageOrderValue');
    return metrics.averageOrderValue(scope, window);
  },
  conversionRate: ({ scope, window }, _, { metrics }) => metrics.conversionRate(scope, window),
  topProducts({ scope, window }, { limit }, { metrics }) {
    return metrics.topProducts(scope, window, validateLimit(limit ?? 5, 1, TOP_PRODUCTS_MAX, 'limit'));
  },
  async revenueIn({ scope, window }, { currency }, { identity, metrics, services }) {
    assertCanRead(identity, 'Dashboard.revenueIn');
    const code = normaliseCurrency(currency);
    // Asked now, in the same tick as the other fields, so that its buckets join their batch.
    const revenuePromise = metrics.revenue(scope, window);
    // If the rate fails first, this promise is never awaited here; its failure must not go unhandled.
    revenuePromise.catch(() => {});
    const base = await services.currencyOf(scope.tenant);
    const quote = await services.fx.quote(base, code);
    const revenue = await revenuePromise;
    return { ...quote, currency: code, amount: Math.round(revenue.total * quote.rate * 100) / 100 };
  },
};

export const ProductSales: ProductSalesResolvers = {
  revenue(sales, _, { identity }) {
    assertCanRead(identity, 'ProductSales.revenue');
    return sales.revenue;
  },
};
