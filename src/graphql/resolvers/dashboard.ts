/**
 * Dashboard fields: authorize from the token, then ask the metrics reader. Nothing
 * else. One resolver per declared metric, made from its declaration, so that a new
 * metric needs no resolver of its own.
 */
import { scopeOf } from '../../auth/identity.js';
import { assertCanRead } from '../../auth/policy.js';
import { validateRange } from '../../domain/validation.js';
import type { MetricArgs } from '../../metrics/define.js';
import type { MetricRegistry } from '../../metrics/registry.js';
import type { DashboardWindow } from '../../metrics/window.js';
import { normaliseCurrency } from '../../vendors/fx.js';
import type { GraphQLContext } from '../context.js';
import type { DashboardResolvers, ProductSalesResolvers, QueryResolvers } from '../resolvers.generated.js';

/**
 * `Query.dashboard`: validates the range for the granularity (default HOUR) and returns
 * the caller's scope and the snapped window, which the `Dashboard` fields read.
 */
export const Query: QueryResolvers = {
  dashboard(_, { range, granularity }, { identity }) {
    const g = granularity ?? 'HOUR';
    return { scope: scopeOf(identity), window: validateRange(range.from, range.to, g, 'range') };
  },
};

type FieldResolver = (parent: DashboardWindow, args: MetricArgs, context: GraphQLContext) => unknown;

/** `Dashboard`'s resolvers: one per metric of the registry, plus the fields that are not metrics. */
export function createDashboardResolvers(registry: MetricRegistry): DashboardResolvers {
  const metricFields: Record<string, FieldResolver> = {};
  for (const metric of registry.all) {
    const [type, field] = metric.field.split('.');
    if (type !== 'Dashboard' || !field) continue;
    metricFields[field] = ({ scope, window }, args, { identity, metrics }) => {
      assertCanRead(identity, metric.field, registry.readRules);
      return metrics.read(metric, scope, window, args);
    };
  }
  const revenue = registry.get('REVENUE');
  if (!revenue || revenue.combine !== 'sum') throw new Error('Dashboard.revenueIn converts REVENUE, which must be a declared sum metric');

  return {
    range: ({ window }) => ({ from: window.from, to: window.to }),
    granularity: ({ window }) => window.granularity,
    ...(metricFields as DashboardResolvers),
    async revenueIn({ scope, window }, { currency }, { identity, metrics, services }) {
      assertCanRead(identity, 'Dashboard.revenueIn', registry.readRules);
      const code = normaliseCurrency(currency);
      // The rate is the vendor's, cached on its own terms: no validator says when it changes.
      metrics.readUnvalidated();
      // Asked now, in the same tick as the other fields, so that its buckets join their batch.
      const revenuePromise = metrics.read(revenue, scope, window);
      // If the rate fails first, this promise is never awaited here; its failure must not go unhandled.
      revenuePromise.catch(() => {});
      const base = await services.currencyOf(scope.tenant);
      const quote = await services.fx.quote(base, code);
      const { total } = await revenuePromise;
      return { ...quote, currency: code, amount: Math.round(total * quote.rate * 100) / 100 };
    },
  };
}

/** `ProductSales`: a product's revenue shares REVENUE's role rule. */
export function createProductSalesResolvers(registry: MetricRegistry): ProductSalesResolvers {
  return {
    revenue(sales, _, { identity }) {
      assertCanRead(identity, 'ProductSales.revenue', registry.readRules);
      return sales.revenue;
    },
  };
}
