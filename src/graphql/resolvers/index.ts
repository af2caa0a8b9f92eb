/** All resolvers, typed by graphql-codegen from schema/. */
import type { MetricRegistry } from '../../metrics/registry.js';
import type { Resolvers } from '../resolvers.generated.js';
import { DateTimeScalar } from '../scalars.js';
import { createDashboardResolvers, createProductSalesResolvers, Query } from './dashboard.js';
import { Mutation, Order, Session } from './mutation.js';
import { Subscription } from './subscription.js';

/** The resolvers for a registry of metrics (the dashboard's, or a test's with more). */
export function createResolvers(registry: MetricRegistry): Resolvers {
  return {
    DateTime: DateTimeScalar,
    Query,
    Dashboard: createDashboardResolvers(registry),
    ProductSales: createProductSalesResolvers(registry),
    Mutation,
    Order,
    Session,
    Subscription,
  };
}
