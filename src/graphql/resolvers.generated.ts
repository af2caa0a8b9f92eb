import type { GraphQLResolveInfo, GraphQLScalarType, GraphQLScalarTypeConfig } from 'graphql';
import type { DashboardWindow } from '../metrics/window.js';
import type { ProductSalesModel } from '../metrics/types.js';
import type { OrderRow, SessionRow } from '../source/types.js';
import type { ConvertedAmountModel } from '../vendors/fx.js';
import type { GraphQLContext } from './context.js';
export type Maybe<T> = T | null;
export type InputMaybe<T> = Maybe<T>;
export type RequireFields<T, K extends keyof T> = Omit<T, K> & { [P in K]-?: NonNullable<T[P]> };
/** All built-in and custom scalars, mapped to their actual values */
export type Scalars = {
  ID: { input: string; output: string; }
  String: { input: string; output: string; }
  Boolean: { input: boolean; output: boolean; }
  Int: { input: number; output: number; }
  Float: { input: number; output: number; }
  /**
   * An instant in time, written and read as ISO-8601 in UTC, e.g. `2026-11-25T14:00:00Z`.
   * A value with an offset is accepted and converted to UTC; a value without a zone is refused.
   */
  DateTime: { input: number; output: Date | number; }
};

/** An amount converted with an exchange rate, with where the rate came from. */
export type ConvertedAmount = {
  __typename?: 'ConvertedAmount';
  amount: Scalars['Float']['output'];
  currency: Scalars['String']['output'];
  fetchedAt: Scalars['DateTime']['output'];
  rate: Scalars['Float']['output'];
  /** Where the rate came from: `static` for the built-in table, else the vendor's host. */
  source: Scalars['String']['output'];
  /** True when the vendor could not be reached and the last good rate was used. */
  stale: Scalars['Boolean']['output'];
  /** The vendor's own date of the rate (YYYY-MM-DD); null for the built-in table. */
  vendorDate?: Maybe<Scalars['String']['output']>;
};

/** Metrics of one tenant (and region scope) over one range. Each field is computed on its own. */
export type Dashboard = {
  __typename?: 'Dashboard';
  /** revenue.total / orders.total; null when there are no orders. Null with FORBIDDEN for VIEWER. */
  averageOrderValue?: Maybe<Scalars['Float']['output']>;
  /** orders.total / sessions.total; null when there are no sessions. */
  conversionRate?: Maybe<Scalars['Float']['output']>;
  /**
   * Distinct customers with at least one order. Each point counts its own bucket exactly;
   * `total` counts distinct customers over the whole range, so it is not the sum of the
   * points. It is merged at read time from per-bucket sketches: exact 32-bit hashes of the
   * customers while a bucket has at most 8,192 of them, a HyperLogLog (2^15 registers,
   * about 0.6% standard error, Ertl's estimator) beyond that. Within 2%.
   */
  customers: Series;
  granularity: Granularity;
  /** Number of orders. */
  orders: Series;
  /** The effective range: the requested one snapped outward to whole buckets. */
  range: TimeRange;
  /** Sum of order amounts in the tenant's currency, major units. Null with FORBIDDEN for VIEWER. */
  revenue?: Maybe<Series>;
  /**
   * revenue.total converted into `currency` (ISO 4217, e.g. EUR) with an external exchange
   * rate. Null with FORBIDDEN for VIEWER.
   */
  revenueIn?: Maybe<ConvertedAmount>;
  /** Number of sessions. */
  sessions: Series;
  /** Best-selling products by number of orders (ties by product id). `limit` is 1..50. */
  topProducts: Array<ProductSales>;
};


/** Metrics of one tenant (and region scope) over one range. Each field is computed on its own. */
export type DashboardRevenueInArgs = {
  currency: Scalars['String']['input'];
};


/** Metrics of one tenant (and region scope) over one range. Each field is computed on its own. */
export type DashboardTopProductsArgs = {
  limit?: InputMaybe<Scalars['Int']['input']>;
};

/** The size of one time bucket. Buckets are aligned to UTC hours and UTC days. */
export type Granularity =
  | 'DAY'
  | 'HOUR';

/** The metrics a dashboard shows; names used by invalidation and subscriptions. */
export type MetricName =
  | 'AVERAGE_ORDER_VALUE'
  | 'CONVERSION_RATE'
  | 'CUSTOMERS'
  | 'ORDERS'
  | 'REVENUE'
  | 'SESSIONS'
  | 'TOP_PRODUCTS';

export type MetricsInvalidated = {
  __typename?: 'MetricsInvalidated';
  at: Scalars['DateTime']['output'];
  from: Scalars['DateTime']['output'];
  metrics: Array<MetricName>;
  /** Why: `order.recorded`, `session.recorded` or `manual`. */
  reason: Scalars['String']['output'];
  to: Scalars['DateTime']['output'];
};

export type Mutation = {
  __typename?: 'Mutation';
  /**
   * Drop cached buckets of the caller's tenant: the named metrics (all when omitted) over
   * the range (all cached time when omitted). Returns the number of buckets dropped. ADMIN.
   */
  invalidateMetrics: Scalars['Int']['output'];
  /** Record an order for the caller's tenant. ADMIN and ANALYST. */
  recordOrder: Order;
  /** Record a visitor session for the caller's tenant. ADMIN and ANALYST. */
  recordSession: Session;
};


export type MutationInvalidateMetricsArgs = {
  metrics?: InputMaybe<Array<MetricName>>;
  range?: InputMaybe<TimeRangeInput>;
};


export type MutationRecordOrderArgs = {
  input: RecordOrderInput;
};


export type MutationRecordSessionArgs = {
  input: RecordSessionInput;
};

export type Order = {
  __typename?: 'Order';
  amount: Scalars['Float']['output'];
  customerId: Scalars['ID']['output'];
  id: Scalars['ID']['output'];
  occurredAt: Scalars['DateTime']['output'];
  productId: Scalars['ID']['output'];
  region: Scalars['String']['output'];
};

export type Point = {
  __typename?: 'Point';
  /** Start of the bucket. */
  start: Scalars['DateTime']['output'];
  value: Scalars['Float']['output'];
};

export type ProductSales = {
  __typename?: 'ProductSales';
  name: Scalars['String']['output'];
  orders: Scalars['Int']['output'];
  productId: Scalars['ID']['output'];
  /** Null with FORBIDDEN for VIEWER. */
  revenue?: Maybe<Scalars['Float']['output']>;
};

export type Query = {
  __typename?: 'Query';
  /**
   * The dashboard of the caller's tenant over a range, restricted to the caller's region
   * when the token names one. The range is snapped outward to whole buckets. Limits:
   * at most 90 days at HOUR, 400 days at DAY.
   */
  dashboard: Dashboard;
};


export type QueryDashboardArgs = {
  granularity?: InputMaybe<Granularity>;
  range: TimeRangeInput;
};

export type RecordOrderInput = {
  /** Amount in the tenant's currency, major units: finite, 0 or more, at most 1,000,000, cents precision. */
  amount: Scalars['Float']['input'];
  customerId: Scalars['ID']['input'];
  /** When it happened; defaults to now. Not in the future, not older than 400 days. */
  occurredAt?: InputMaybe<Scalars['DateTime']['input']>;
  /** A product of the caller's tenant. */
  productId: Scalars['ID']['input'];
  /** EU, NA or APAC. Defaults to the token's region, else the tenant's home region. */
  region?: InputMaybe<Scalars['String']['input']>;
};

export type RecordSessionInput = {
  /** When it happened; defaults to now. Not in the future, not older than 400 days. */
  occurredAt?: InputMaybe<Scalars['DateTime']['input']>;
  /** EU, NA or APAC. Defaults to the token's region, else the tenant's home region. */
  region?: InputMaybe<Scalars['String']['input']>;
  visitorId: Scalars['ID']['input'];
};

/** A time series: one point per bucket of the range, zeros included. */
export type Series = {
  __typename?: 'Series';
  points: Array<Point>;
  total: Scalars['Float']['output'];
};

export type Session = {
  __typename?: 'Session';
  id: Scalars['ID']['output'];
  occurredAt: Scalars['DateTime']['output'];
  region: Scalars['String']['output'];
  visitorId: Scalars['ID']['output'];
};

/**
 * graphql-ws clients authenticate with connectionParams { authorization: "Bearer <JWT>" };
 * SSE clients with the Authorization header.
 */
export type Subscription = {
  __typename?: 'Subscription';
  /** Which metrics of the caller's tenant changed, and over which range. Only the caller's tenant, ever. */
  metricsInvalidated: MetricsInvalidated;
};


/**
 * graphql-ws clients authenticate with connectionParams { authorization: "Bearer <JWT>" };
 * SSE clients with the Authorization header.
 */
export type SubscriptionMetricsInvalidatedArgs = {
  metrics?: InputMaybe<Array<MetricName>>;
};

/** A half-open time range [from, to). */
export type TimeRange = {
  __typename?: 'TimeRange';
  from: Scalars['DateTime']['output'];
  to: Scalars['DateTime']['output'];
};

/** A half-open time range [from, to). */
export type TimeRangeInput = {
  from: Scalars['DateTime']['input'];
  to: Scalars['DateTime']['input'];
};



export type ResolverTypeWrapper<T> = Promise<T> | T;


export type ResolverWithResolve<TResult, TParent, TContext, TArgs> = {
  resolve: ResolverFn<TResult, TParent, TContext, TArgs>;
};
export type Resolver<TResult, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>, TArgs = Record<PropertyKey, never>> = ResolverFn<TResult, TParent, TContext, TArgs> | ResolverWithResolve<TResult, TParent, TContext, TArgs>;

export type ResolverFn<TResult, TParent, TContext, TArgs> = (
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => Promise<TResult> | TResult;

export type SubscriptionSubscribeFn<TResult, TParent, TContext, TArgs> = (
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => AsyncIterable<TResult> | Promise<AsyncIterable<TResult>>;

export type SubscriptionResolveFn<TResult, TParent, TContext, TArgs> = (
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => TResult | Promise<TResult>;

export interface SubscriptionSubscriberObject<TResult, TKey extends string, TParent, TContext, TArgs> {
  subscribe: SubscriptionSubscribeFn<{ [key in TKey]: TResult }, TParent, TContext, TArgs>;
  resolve?: SubscriptionResolveFn<TResult, { [key in TKey]: TResult }, TContext, TArgs>;
}

export interface SubscriptionResolverObject<TResult, TParent, TContext, TArgs> {
  subscribe: SubscriptionSubscribeFn<any, TParent, TContext, TArgs>;
  resolve: SubscriptionResolveFn<TResult, any, TContext, TArgs>;
}

export type SubscriptionObject<TResult, TKey extends string, TParent, TContext, TArgs> =
  | SubscriptionSubscriberObject<TResult, TKey, TParent, TContext, TArgs>
  | SubscriptionResolverObject<TResult, TParent, TContext, TArgs>;

export type SubscriptionResolver<TResult, TKey extends string, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>, TArgs = Record<PropertyKey, never>> =
  | ((...args: any[]) => SubscriptionObject<TResult, TKey, TParent, TContext, TArgs>)
  | SubscriptionObject<TResult, TKey, TParent, TContext, TArgs>;

export type TypeResolveFn<TTypes, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>> = (
  parent: TParent,
  context: TContext,
  info: GraphQLResolveInfo
) => Maybe<TTypes> | Promise<Maybe<TTypes>>;

export type IsTypeOfResolverFn<T = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>> = (obj: T, context: TContext, info: GraphQLResolveInfo) => boolean | Promise<boolean>;

export type NextResolverFn<T> = () => Promise<T>;

export type DirectiveResolverFn<TResult = Record<PropertyKey, never>, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>, TArgs = Record<PropertyKey, never>> = (
  next: NextResolverFn<TResult>,
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => TResult | Promise<TResult>;





/** Mapping between all available schema types and the resolvers types */
export type ResolversTypes = {
  Boolean: ResolverTypeWrapper<Scalars['Boolean']['output']>;
  ConvertedAmount: ResolverTypeWrapper<ConvertedAmountModel>;
  Dashboard: ResolverTypeWrapper<DashboardWindow>;
  DateTime: ResolverTypeWrapper<Scalars['DateTime']['output']>;
  Float: ResolverTypeWrapper<Scalars['Float']['output']>;
  Granularity: Granularity;
  ID: ResolverTypeWrapper<Scalars['ID']['output']>;
  Int: ResolverTypeWrapper<Scalars['Int']['output']>;
  MetricName: MetricName;
  MetricsInvalidated: ResolverTypeWrapper<MetricsInvalidated>;
  Mutation: ResolverTypeWrapper<Record<PropertyKey, never>>;
  Order: ResolverTypeWrapper<OrderRow>;
  Point: ResolverTypeWrapper<Point>;
  ProductSales: ResolverTypeWrapper<ProductSalesModel>;
  Query: ResolverTypeWrapper<Record<PropertyKey, never>>;
  RecordOrderInput: RecordOrderInput;
  RecordSessionInput: RecordSessionInput;
  Series: ResolverTypeWrapper<Series>;
  Session: ResolverTypeWrapper<SessionRow>;
  String: ResolverTypeWrapper<Scalars['String']['output']>;
  Subscription: ResolverTypeWrapper<Record<PropertyKey, never>>;
  TimeRange: ResolverTypeWrapper<TimeRange>;
  TimeRangeInput: TimeRangeInput;
};

/** Mapping between all available schema types and the resolvers parents */
export type ResolversParentTypes = {
  Boolean: Scalars['Boolean']['output'];
  ConvertedAmount: ConvertedAmountModel;
  Dashboard: DashboardWindow;
  DateTime: Scalars['DateTime']['output'];
  Float: Scalars['Float']['output'];
  ID: Scalars['ID']['output'];
  Int: Scalars['Int']['output'];
  MetricsInvalidated: MetricsInvalidated;
  Mutation: Record<PropertyKey, never>;
  Order: OrderRow;
  Point: Point;
  ProductSales: ProductSalesModel;
  Query: Record<PropertyKey, never>;
  RecordOrderInput: RecordOrderInput;
  RecordSessionInput: RecordSessionInput;
  Series: Series;
  Session: SessionRow;
  String: Scalars['String']['output'];
  Subscription: Record<PropertyKey, never>;
  TimeRange: TimeRange;
  TimeRangeInput: TimeRangeInput;
};

export type ConvertedAmountResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['ConvertedAmount'] = ResolversParentTypes['ConvertedAmount']> = {
  amount?: Resolver<ResolversTypes['Float'], ParentType, ContextType>;
  currency?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  fetchedAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  rate?: Resolver<ResolversTypes['Float'], ParentType, ContextType>;
  source?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  stale?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  vendorDate?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
};

export type DashboardResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['Dashboard'] = ResolversParentTypes['Dashboard']> = {
  averageOrderValue?: Resolver<Maybe<ResolversTypes['Float']>, ParentType, ContextType>;
  conversionRate?: Resolver<Maybe<ResolversTypes['Float']>, ParentType, ContextType>;
  customers?: Resolver<ResolversTypes['Series'], ParentType, ContextType>;
  granularity?: Resolver<ResolversTypes['Granularity'], ParentType, ContextType>;
  orders?: Resolver<ResolversTypes['Series'], ParentType, ContextType>;
  range?: Resolver<ResolversTypes['TimeRange'], ParentType, ContextType>;
  revenue?: Resolver<Maybe<ResolversTypes['Series']>, ParentType, ContextType>;
  revenueIn?: Resolver<Maybe<ResolversTypes['ConvertedAmount']>, ParentType, ContextType, RequireFields<DashboardRevenueInArgs, 'currency'>>;
  sessions?: Resolver<ResolversTypes['Series'], ParentType, ContextType>;
  topProducts?: Resolver<Array<ResolversTypes['ProductSales']>, ParentType, ContextType, RequireFields<DashboardTopProductsArgs, 'limit'>>;
};

export interface DateTimeScalarConfig extends GraphQLScalarTypeConfig<ResolversTypes['DateTime'], any> {
  name: 'DateTime';
}

export type MetricsInvalidatedResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['MetricsInvalidated'] = ResolversParentTypes['MetricsInvalidated']> = {
  at?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  from?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  metrics?: Resolver<Array<ResolversTypes['MetricName']>, ParentType, ContextType>;
  reason?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  to?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
};

export type MutationResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['Mutation'] = ResolversParentTypes['Mutation']> = {
  invalidateMetrics?: Resolver<ResolversTypes['Int'], ParentType, ContextType, Partial<MutationInvalidateMetricsArgs>>;
  recordOrder?: Resolver<ResolversTypes['Order'], ParentType, ContextType, RequireFields<MutationRecordOrderArgs, 'input'>>;
  recordSession?: Resolver<ResolversTypes['Session'], ParentType, ContextType, RequireFields<MutationRecordSessionArgs, 'input'>>;
};

export type OrderResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['Order'] = ResolversParentTypes['Order']> = {
  amount?: Resolver<ResolversTypes['Float'], ParentType, ContextType>;
  customerId?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  id?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  occurredAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  productId?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  region?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
};

export type PointResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['Point'] = ResolversParentTypes['Point']> = {
  start?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  value?: Resolver<ResolversTypes['Float'], ParentType, ContextType>;
};

export type ProductSalesResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['ProductSales'] = ResolversParentTypes['ProductSales']> = {
  name?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  orders?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  productId?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  revenue?: Resolver<Maybe<ResolversTypes['Float']>, ParentType, ContextType>;
};

export type QueryResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['Query'] = ResolversParentTypes['Query']> = {
  dashboard?: Resolver<ResolversTypes['Dashboard'], ParentType, ContextType, RequireFields<QueryDashboardArgs, 'granularity' | 'range'>>;
};

export type SeriesResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['Series'] = ResolversParentTypes['Series']> = {
  points?: Resolver<Array<ResolversTypes['Point']>, ParentType, ContextType>;
  total?: Resolver<ResolversTypes['Float'], ParentType, ContextType>;
};

export type SessionResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['Session'] = ResolversParentTypes['Session']> = {
  id?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  occurredAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  region?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  visitorId?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
};

export type SubscriptionResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['Subscription'] = ResolversParentTypes['Subscription']> = {
  metricsInvalidated?: SubscriptionResolver<ResolversTypes['MetricsInvalidated'], "metricsInvalidated", ParentType, ContextType, Partial<SubscriptionMetricsInvalidatedArgs>>;
};

export type TimeRangeResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['TimeRange'] = ResolversParentTypes['TimeRange']> = {
  from?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  to?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
};

export type Resolvers<ContextType = GraphQLContext> = {
  ConvertedAmount?: ConvertedAmountResolvers<ContextType>;
  Dashboard?: DashboardResolvers<ContextType>;
  DateTime?: GraphQLScalarType;
  MetricsInvalidated?: MetricsInvalidatedResolvers<ContextType>;
  Mutation?: MutationResolvers<ContextType>;
  Order?: OrderResolvers<ContextType>;
  Point?: PointResolvers<ContextType>;
  ProductSales?: ProductSalesResolvers<ContextType>;
  Query?: QueryResolvers<ContextType>;
  Series?: SeriesResolvers<ContextType>;
  Session?: SessionResolvers<ContextType>;
  Subscription?: SubscriptionResolvers<ContextType>;
  TimeRange?: TimeRangeResolvers<ContextType>;
};

