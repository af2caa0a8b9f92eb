/**
 * The metric registry and the start-up check: what derives from declarations (a
 * derived metric's events and role rule come from its inputs), and the messages that
 * stop start-up when declarations contradict each other or the schema.
 */
import { buildSchema } from 'graphql';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { loadTypeDefs } from '../../src/graphql/yoga.js';
import { checkDeclarations } from '../../src/metrics/declarations-check.js';
import { defineDerived, defineSum, type MetricDefinition } from '../../src/metrics/define.js';
import { DASHBOARD_METRICS, ORDERS, REVENUE, SESSIONS } from '../../src/metrics/definitions.js';
import { DASHBOARD_REGISTRY, DeclarationError, createMetricRegistry } from '../../src/metrics/registry.js';

const schema = buildSchema(loadTypeDefs());
const extra = (over: Partial<Parameters<typeof defineSum>[0]> = {}) =>
  defineSum({
    name: 'EXTRA',
    field: 'Dashboard.extra',
    version: 1,
    events: ['order.recorded'],
    query: { from: 'orders', value: sql`COUNT(*)` },
    unit: 1,
    ...over,
  });
const failure = (declarations: readonly MetricDefinition[]) => {
  try {
    createMetricRegistry(declarations);
  } catch (error) {
    expect(error).toBeInstanceOf(DeclarationError);
    return (error as Error).message;
  }
  throw new Error('expected a DeclarationError');
};

describe('what derives from the declarations', () => {
  it('gives a derived metric the events of its inputs', () => {
    const byName = (name: string) => DASHBOARD_REGISTRY.get(name)!;
    expect(DASHBOARD_REGISTRY.eventsOf(byName('AVERAGE_ORDER_VALUE'))).toEqual(['order.recorded']);
    expect([...DASHBOARD_REGISTRY.eventsOf(byName('CONVERSION_RATE'))].sort()).toEqual(['order.recorded', 'session.recorded']);
    expect(DASHBOARD_REGISTRY.touchedBy('session.recorded')).toEqual(['SESSIONS', 'CONVERSION_RATE']);
    expect(DASHBOARD_REGISTRY.touchedBy('order.recorded')).toEqual([
      'REVENUE',
      'ORDERS',
      'CUSTOMERS',
      'AVERAGE_ORDER_VALUE',
      'CONVERSION_RATE',
      'TOP_PRODUCTS',
    ]);
  });

  it('restricts every field that reveals a restricted metric, derived ones included', () => {
    expect(Object.fromEntries(DASHBOARD_REGISTRY.readRules)).toEqual({
      'Dashboard.revenue': ['ADMIN', 'ANALYST'],
      'Dashboard.revenueIn': ['ADMIN', 'ANALYST'],
      'ProductSales.revenue': ['ADMIN', 'ANALYST'],
      // Not declared on it: it comes from REVENUE, its input.
      'Dashboard.averageOrderValue': ['ADMIN', 'ANALYST'],
    });
  });

  it('names a derived metric among those a change of its inputs affects', () => {
    expect(DASHBOARD_REGISTRY.affectedBy([SESSIONS])).toEqual(['SESSIONS', 'CONVERSION_RATE']);
    expect(DASHBOARD_REGISTRY.storedBehind(['CONVERSION_RATE']).map((m) => m.name)).toEqual(['ORDERS', 'SESSIONS']);
    expect(DASHBOARD_REGISTRY.storedBehind(['NOT_A_METRIC'])).toEqual([]);
  });

  it('narrows a derived metric to what every input allows', () => {
    const privateSessions = extra({ name: 'PRIVATE', field: 'Dashboard.private', readableBy: ['ADMIN'] });
    const ratio = defineDerived({
      name: 'RATIO',
      field: 'Dashboard.ratio',
      version: 1,
      inputs: ['REVENUE', 'PRIVATE'],
      formula: ([a, b]) => (b ? a! / b : null),
    });
    const registry = createMetricRegistry([REVENUE, ORDERS, privateSessions, ratio]);
    expect(registry.readRules.get('Dashboard.ratio')).toEqual(['ADMIN']);
    expect(registry.eventsOf(ratio)).toEqual(['order.recorded']);
  });
});

describe('declarations that contradict each other stop start-up', () => {
  it('lists every problem, each saying what is wrong', () => {
    const message = failure([
      REVENUE,
      REVENUE,
      extra({ events: ['order.refunded' as never] }),
      extra({ name: 'QUIET', field: 'Dashboard.quiet', events: [] }),
      extra({ name: 'NOBODY', field: 'Dashboard.nobody', readableBy: [] }),
      defineDerived({ name: 'BROKEN', field: 'Dashboard.broken', version: 1, inputs: ['MISSING'], formula: () => null }),
    ]);
    expect(message).toContain('metric REVENUE is declared twice');
    expect(message).toContain('metric EXTRA names event "order.refunded", which is not a domain event (order.recorded, session.recorded)');
    expect(message).toContain('metric QUIET names no event: nothing would ever invalidate it');
    expect(message).toContain('metric NOBODY: readableBy must list roles of ADMIN, ANALYST, VIEWER, got []');
    expect(message).toContain('derived metric BROKEN needs MISSING, which is not a declared sum or distinct metric');
  });

  it('refuses a derived metric over another derived one', () => {
    const aov = DASHBOARD_METRICS.find((m) => m.name === 'AVERAGE_ORDER_VALUE')!;
    const twice = defineDerived({
      name: 'TWICE',
      field: 'Dashboard.twice',
      version: 1,
      inputs: ['AVERAGE_ORDER_VALUE'],
      formula: ([a]) => a! * 2,
    });
    expect(failure([REVENUE, ORDERS, aov, twice])).toContain('derived metric TWICE needs AVERAGE_ORDER_VALUE');
  });
});

describe('checkDeclarations against the schema', () => {
  it('accepts the dashboard as it is', () => {
    expect(() => checkDeclarations(schema)).not.toThrow();
  });

  it('names a declaration without a field, a field without a declaration, and enum mismatches', () => {
    const withoutOrders = createMetricRegistry([
      ...DASHBOARD_METRICS.filter((m) => m.name !== 'ORDERS' && m.combine !== 'derived'),
      ORDERS,
      extra(),
    ]);
    let message = '';
    try {
      checkDeclarations(
        schema,
        createMetricRegistry(DASHBOARD_METRICS.filter((m) => m.name !== 'SESSIONS' && m.name !== 'CONVERSION_RATE')),
      );
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain(
      'schema field Dashboard.sessions has no metric declaration: declare it in src/metrics/definitions.ts or list it in NOT_METRICS',
    );
    expect(message).toContain('enum MetricName has SESSIONS, which has no declaration');
    expect(() => checkDeclarations(schema, withoutOrders)).toThrow(
      'metric EXTRA declares field Dashboard.extra, which the schema does not have: fix its `field` or add the field to schema/',
    );
    expect(() => checkDeclarations(schema, withoutOrders)).toThrow('metric EXTRA is not a value of enum MetricName');
  });
});
