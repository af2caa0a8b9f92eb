/**
 * dashboardCost on the real schema/ SDL: for every dashboard field, its buckets times
 * the distinct metric fields selected inside it (CONTRACT.md, "Query limits").
 *
 * (vitest.config.ts makes every import of graphql one copy, as Node does: with two
 * copies, argument coercion failed and every dashboard cost 0.)
 */
import { buildSchema, getOperationAST, getVariableValues, parse, type GraphQLScalarType } from 'graphql';
import { createSchema } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { dashboardCost, metricFields } from '../../src/graphql/plugins/query-limits.js';
import { DateTimeScalar } from '../../src/graphql/scalars.js';
import { loadTypeDefs } from '../../src/graphql/yoga.js';

const schema = buildSchema(loadTypeDefs());
// buildSchema leaves custom scalars as pass-through; give DateTime its real parsing so that
// arguments coerce to epoch ms as they do in the server.
Object.assign(schema.getType('DateTime') as GraphQLScalarType, {
  parseValue: DateTimeScalar.parseValue,
  parseLiteral: DateTimeScalar.parseLiteral,
});

/** The cost of `source`, with `variables` coerced as the executor would coerce them. */
function cost(source: string, rawVariables: Record<string, unknown> = {}, operationName?: string): number {
  const document = parse(source);
  const operation = getOperationAST(document, operationName);
  let variables: Record<string, unknown> = {};
  if (operation?.variableDefinitions?.length) {
    const coerced = getVariableValues(schema, operation.variableDefinitions, rawVariables);
    if (coerced.errors) throw new Error(coerced.errors.map((e) => e.message).join('; '));
    variables = coerced.coerced;
  }
  return dashboardCost(schema, document, operationName, variables);
}

describe('dashboardCost', () => {
  it('counts the buckets of one dashboard, HOUR by default', () => {
    expect(cost(`{ dashboard(range: { from: "2026-11-25", to: "2026-11-26" }) { orders { total } } }`)).toBe(24);
  });

  it('counts DAY buckets at DAY granularity', () => {
    expect(cost(`{ dashboard(range: { from: "2026-11-01", to: "2026-12-01" }, granularity: DAY) { orders { total } } }`)).toBe(30);
  });

  it('snaps the range outward before counting', () => {
    expect(cost(`{ dashboard(range: { from: "2026-11-25T10:30:00Z", to: "2026-11-25T12:10:00Z" }) { orders { total } } }`)).toBe(3);
  });

  it('sums aliased dashboards', () => {
    const query = `{
      a: dashboard(range: { from: "2026-11-25", to: "2026-11-26" }) { orders { total } }
      b: dashboard(range: { from: "2026-11-01", to: "2026-11-08" }, granularity: DAY) { orders { total } }
      c: dashboard(range: { from: "2026-11-25T00:00:00Z", to: "2026-11-25T02:00:00Z" }, granularity: HOUR) { sessions { total } }
    }`;
    expect(cost(query)).toBe(24 + 7 + 2);
  });

  it('reads ranges and granularity from variables', () => {
    const query = `query Q($from: DateTime!, $to: DateTime!, $g: Granularity) {
      dashboard(range: { from: $from, to: $to }, granularity: $g) { orders { total } }
    }`;
    expect(cost(query, { from: '2026-11-25', to: '2026-11-27' })).toBe(48);
    expect(cost(query, { from: '2026-11-25', to: '2026-11-27', g: 'DAY' })).toBe(2);
    expect(cost(query, { from: '2026-11-25T00:00:00+01:00', to: '2026-11-25T01:00:00+01:00' })).toBe(1);
  });

  it('reads a whole range object from a variable', () => {
    const query = `query Q($range: TimeRangeInput!) { dashboard(range: $range, granularity: DAY) { orders { total } } }`;
    expect(cost(query, { range: { from: '2026-01-01', to: '2026-04-01' } })).toBe(90);
  });

  it('counts dashboards inside named and inline fragments', () => {
    const query = `
      query Q { ...Week ... on Query { d: dashboard(range: { from: "2026-11-25", to: "2026-11-26" }) { orders { total } } } }
      fragment Week on Query { w: dashboard(range: { from: "2026-11-01", to: "2026-11-08" }, granularity: DAY) { ...Totals } }
      fragment Totals on Dashboard { orders { total } }
    `;
    expect(cost(query)).toBe(7 + 24);
  });

  it('counts fragments nested in fragments', () => {
    const query = `
      { ...Outer }
      fragment Outer on Query { ...Inner }
      fragment Inner on Query { dashboard(range: { from: "2026-11-25", to: "2026-11-25T05:00:00Z" }) { orders { total } } }
    `;
    expect(cost(query)).toBe(5);
  });

  it('costs 0 for a range the resolver would refuse', () => {
    expect(cost(`{ dashboard(range: { from: "2026-11-26", to: "2026-11-25" }) { orders { total } } }`)).toBe(0);
    expect(cost(`{ dashboard(range: { from: "2026-11-25", to: "2026-11-25" }) { orders { total } } }`)).toBe(0);
    // 91 days at HOUR is over the 90-day limit.
    expect(cost(`{ dashboard(range: { from: "2026-01-01", to: "2026-04-02" }) { orders { total } } }`)).toBe(0);
  });

  it('costs 0 for arguments that do not coerce, but still counts the others', () => {
    const query = `{
      bad: dashboard(range: { from: "2026-02-30", to: "2026-03-02" }) { orders { total } }
      good: dashboard(range: { from: "2026-03-01", to: "2026-03-02" }) { orders { total } }
    }`;
    expect(cost(query)).toBe(24);
  });

  it('costs 0 for a missing variable', () => {
    const document = parse(`query Q($from: DateTime!, $to: DateTime!) { dashboard(range: { from: $from, to: $to }) { orders { total } } }`);
    expect(dashboardCost(schema, document, undefined, {})).toBe(0);
  });

  it('costs 0 for mutations and subscriptions', () => {
    expect(cost(`mutation { invalidateMetrics(range: { from: "2020-01-01", to: "2026-01-01" }) }`)).toBe(0);
    expect(cost(`subscription { metricsInvalidated { metrics } }`)).toBe(0);
  });

  it('costs only the chosen operation', () => {
    const document = `
      query Small { dashboard(range: { from: "2026-11-25", to: "2026-11-25T02:00:00Z" }) { orders { total } } }
      query Big { dashboard(range: { from: "2026-11-01", to: "2026-11-11" }) { orders { total } } }
      mutation M { invalidateMetrics }
    `;
    expect(cost(document, {}, 'Small')).toBe(2);
    expect(cost(document, {}, 'Big')).toBe(240);
    expect(cost(document, {}, 'M')).toBe(0);
    expect(cost(document, {}, 'Missing')).toBe(0);
  });

  it('costs 0 for a query without dashboards', () => {
    expect(cost(`{ __typename }`)).toBe(0);
  });

  it('multiplies by the metric fields selected: a full 90-day HOUR dashboard is 2,160 × 7 = 15,120', () => {
    const seven = `revenue { total } orders { total } sessions { total } customers { total }
      averageOrderValue conversionRate topProducts { name }`;
    const full = `dashboard(range: { from: "2026-01-01", to: "2026-04-01" }) { ${seven} }`;
    expect(cost(`{ ${full} }`)).toBe(2_160 * 7);
    expect(cost(`{ ${full} }`)).toBeLessThanOrEqual(20_000);
    // Three of them are 45,360: over the contract's 20,000.
    expect(cost(`{ a: ${full} b: ${full} c: ${full} }`)).toBe(45_360);
  });

  it('counts revenueIn as a metric field, and nothing for range, granularity or __typename', () => {
    const range = `range: { from: "2026-11-25", to: "2026-11-26" }`;
    expect(cost(`{ dashboard(${range}) { revenueIn(currency: "EUR") { amount } } }`)).toBe(24);
    expect(cost(`{ dashboard(${range}) { range { from to } granularity __typename } }`)).toBe(0);
    expect(cost(`{ dashboard(${range}) { range { from } orders { total } revenueIn(currency: "EUR") { amount } } }`)).toBe(48);
  });

  it('counts a metric field once per dashboard however often, by alias or fragment, it is selected', () => {
    const query = `{
      dashboard(range: { from: "2026-11-25", to: "2026-11-26" }) {
        orders { total }
        again: orders { points { value } }
        ... on Dashboard { orders { total } sessions { total } }
        ...Both
      }
    }
    fragment Both on Dashboard { sessions { total } ...Deeper }
    fragment Deeper on Dashboard { o: orders { total } top: topProducts(limit: 3) { name } more: topProducts(limit: 9) { name } }`;
    expect(cost(query)).toBe(24 * 3); // orders, sessions, topProducts
  });

  it('counts each dashboard with its own fields, fragments shared between them included', () => {
    const query = `{
      a: dashboard(range: { from: "2026-11-25", to: "2026-11-26" }) { ...Totals revenue { total } }
      b: dashboard(range: { from: "2026-11-01", to: "2026-11-08" }, granularity: DAY) { ...Totals }
    }
    fragment Totals on Dashboard { orders { total } sessions { total } }`;
    expect(cost(query)).toBe(24 * 3 + 7 * 2);
  });

  it('takes the metric fields from the declarations', () => {
    expect([...metricFields()].filter((f) => f.startsWith('Dashboard.')).sort()).toEqual(
      [
        'Dashboard.averageOrderValue',
        'Dashboard.conversionRate',
        'Dashboard.customers',
        'Dashboard.orders',
        'Dashboard.revenue',
        'Dashboard.revenueIn',
        'Dashboard.sessions',
        'Dashboard.topProducts',
      ].sort(),
    );
  });

  it('works on the schema graphql-yoga builds (as the server does), fragments included', () => {
    const yogaSchema = createSchema({ typeDefs: loadTypeDefs(), resolvers: { DateTime: DateTimeScalar } });
    const query = `
      { ...F }
      fragment F on Query { dashboard(range: { from: "2026-11-25", to: "2026-11-26" }) { orders { total } } }
    `;
    expect(dashboardCost(yogaSchema, parse(query), undefined, {})).toBe(24);
  });
});
