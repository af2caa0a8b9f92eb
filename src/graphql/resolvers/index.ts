/** All resolvers, typed by graphql-codegen from schema/. */
import type { Resolvers } from '../resolvers.generated.js';
import { DateTimeScalar } from '../scalars.js';
import { Dashboard, ProductSales, Query } from './dashboard.js';
import { Mutation, Order, Session } from './mutation.js';
import { Subscription } from './subscription.js';

export const resolvers: Resolvers = {
  DateTime: DateTimeScalar,
  Query,
  Dashboard,
  ProductSales,
  Mutation,
  Order,
  Session,
  Subscription,
};
