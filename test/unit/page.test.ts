/**
 * The live page's pure parts (src/web/page/): which fields a notice refetches, the
 * pruned query that asks for them (validated against the real schema), how answers
 * patch the state, what the cache details and problems say.
 */
import { buildSchema, parse, print, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { loadTypeDefs } from '../../src/graphql/yoga.js';
import type { Answer } from '../../src/web/page/api.js';
import { cacheDetailOf, describeCache, describeFreshness, maxAgeOf } from '../../src/web/page/cache-details.js';
import { fieldsShowing, PANEL_FIELDS, type PanelField } from '../../src/web/page/fields.js';
import { problemOf, liveStoppedProblem } from '../../src/web/page/problems.js';
import { pruneRefetch, selectedFields, type PartialChanged } from '../../src/web/page/refetch.js';
import { applyChanged, mergePoints, stateFromPage } from '../../src/web/page/state.js';
import type { DashboardPageQuery } from '../../src/web/page/gql/graphql.js';

const schema = buildSchema(loadTypeDefs());
const RANGE = { from: '2026-11-24T10:00:00.000Z', to: '2026-11-24T13:00:00.000Z' };
const CHANGED = { from: '2026-11-24T12:00:00.000Z', to: '2026-11-24T13:00:00.000Z' };
const VARIABLES = { range: RANGE, changed: CHANGED, granularity: 'HOUR' as const, currency: 'EUR', limit: 5 };

describe('the fields a notice refetches', () => {
  it('an order changes every panel but sessions; a session only sessions and the conversion rate', () => {
    const order = ['REVENUE', 'ORDERS', 'CUSTOMERS', 'AVERAGE_ORDER_VALUE', 'CONVERSION_RATE', 'TOP_PRODUCTS'] as const;
    expect(fieldsShowing(order)).toEqual(PANEL_FIELDS.filter((f) => f !== 'sessions'));
    expect(fieldsShowing(['SESSIONS', 'CONVERSION_RATE'])).toEqual(['sessions', 'conversionRate']);
    expect(fieldsShowing(['REVENUE'])).toEqual(['revenue', 'topProducts', 'revenueIn']);
  });
});

describe('pruneRefetch', () => {
  it('asks for the series points over the changed range and the rest over the whole range, nothing else', () => {
    const plan = pruneRefetch(new Set<PanelField>(['sessions', 'conversionRate']), VARIABLES)!;
    expect(validate(schema, plan.document)).toEqual([]);
    expect(selectedFields(plan.document)).toEqual({ changed: ['range', 'sessions'], dashboard: ['range', 'sessions', 'conversionRate'] });
    // The variables no field uses are gone from the query and from what is sent.
    expect(plan.variables).toEqual({ range: RANGE, changed: CHANGED, granularity: 'HOUR' });
    expect(print(plan.document)).not.toMatch(/\$currency|\$limit|revenue|orders|customers|topProducts/);
  });

  it('drops the changed range when no series is asked for, and keeps the variables of the fields that take arguments', () => {
    const plan = pruneRefetch(new Set<PanelField>(['revenueIn', 'topProducts']), VARIABLES)!;
    expect(validate(schema, plan.document)).toEqual([]);
    expect(selectedFields(plan.document)).toEqual({ dashboard: ['range', 'topProducts', 'revenueIn'] });
    expect(Object.keys(plan.variables).sort()).toEqual(['currency', 'granularity', 'limit', 'range']);
  });

  it('every single field makes a valid query, and no field asks for nothing', () => {
    for (const field of PANEL_FIELDS) {
      const plan = pruneRefetch(new Set([field]), VARIABLES)!;
      expect(validate(schema, parse(print(plan.document))), field).toEqual([]);
      expect(Object.values(selectedFields(plan.document)).flat()).toContain(field);
    }
    expect(pruneRefetch(new Set(), VARIABLES)).toBeUndefined();
  });
});

const answer = <T>(data: T, extra: Partial<Answer<T>> = {}): Answer<T> => ({
  data,
  errors: [],
  extensions: {},
  cacheControl: 'private, max-age=30',
  maxAgeS: 30,
  requestId: 'r1',
  at: 1_000,
  ms: 5,
  ...extra,
});

const points = (values: number[]) =>
  values.map((value, i) => ({ start: new Date(Date.parse(RANGE.from) + i * 3_600_000).toISOString(), value }));

function fullPage(): DashboardPageQuery {
  return {
    dashboard: {
      range: RANGE,
      granularity: 'HOUR',
      revenue: { total: 60, points: points([10, 20, 30]) },
      orders: { total: 6, points: points([1, 2, 3]) },
      sessions: { total: 60, points: points([10, 20, 30]) },
      customers: { total: 5, points: points([1, 2, 3]) },
      averageOrderValue: 10,
      conversionRate: 0.1,
      topProducts: [{ productId: 'acme-p01', name: 'Aero Kettle', orders: 6, revenue: 60 }],
      revenueIn: { currency: 'EUR', amount: 55.2, rate: 0.92, source: 'static', fetchedAt: RANGE.from, stale: false },
    },
  };
}

describe('the page state', () => {
  it('a VIEWER answer: revenue panels carry FORBIDDEN and no value, the product list its revenue refused in part', () => {
    const data = fullPage();
    data.dashboard.revenue = null;
    data.dashboard.averageOrderValue = null;
    data.dashboard.revenueIn = null;
    data.dashboard.topProducts[0]!.revenue = null;
    const forbidden = (path: Array<string | number>) => ({ message: 'Not permitted', path, extensions: { code: 'FORBIDDEN' } });
    const state = stateFromPage(
      answer(data, {
        errors: [
          forbidden(['dashboard', 'revenue']),
          forbidden(['dashboard', 'averageOrderValue']),
          forbidden(['dashboard', 'revenueIn']),
          forbidden(['dashboard', 'topProducts', 0, 'revenue']),
        ],
        extensions: { cache: { ORDERS: { hit: 3, miss: 0, stale: 0 } } },
      }),
      { production: false, role: 'VIEWER' },
    );
    for (const field of ['revenue', 'averageOrderValue', 'revenueIn'] as const) {
      expect(state.panels[field].value, field).toBeUndefined();
      expect(state.panels[field].problem?.code, field).toBe('FORBIDDEN');
      expect(state.panels[field].problem?.title).toBe('Not permitted for VIEWER.');
    }
    expect(state.panels.topProducts.problem).toBeUndefined();
    expect(state.panels.topProducts.partProblem?.code).toBe('FORBIDDEN');
    expect(state.panels.orders.value?.total).toBe(6);
    expect(state.panels.orders.cache).toEqual({ kind: 'buckets', hit: 3, miss: 0, stale: 0 });
  });

  it('a partial answer patches the changed points and totals of the fields asked, and marks them with the notice', () => {
    const state = stateFromPage(answer(fullPage()), { production: false });
    const partial: PartialChanged = {
      changed: { range: CHANGED, sessions: { points: [{ start: CHANGED.from, value: 31 }] } },
      dashboard: { range: RANGE, sessions: { total: 61 }, conversionRate: 6 / 61 },
    };
    applyChanged(
      state,
      answer(partial, {
        at: 2_000,
        extensions: { cache: { SESSIONS: { hit: 3, miss: 2, stale: 0 }, ORDERS: { hit: 3, miss: 0, stale: 0 } } },
      }),
      new Set(['sessions', 'conversionRate']),
      { reason: 'session.recorded', at: 1_900, ...CHANGED },
      { production: false },
    );
    expect(state.panels.sessions.value).toEqual({ total: 61, points: points([10, 20, 31]) });
    expect(state.panels.sessions.change).toEqual({ reason: 'session.recorded', at: 1_900, ...CHANGED, refetchedAt: 2_000 });
    expect(state.panels.sessions.cache).toEqual({ kind: 'buckets', hit: 3, miss: 2, stale: 0 });
    expect(state.panels.conversionRate.value).toBeCloseTo(6 / 61, 12);
    expect(state.panels.conversionRate.cache).toEqual({ kind: 'buckets', hit: 6, miss: 2, stale: 0 });
    // What the notice did not name is left as it was.
    expect(state.panels.orders.change).toBeUndefined();
    expect(state.panels.orders.fetchedAt).toBe(1_000);
  });

  it('mergePoints replaces points by their start instant, whatever its spelling, and keeps the rest', () => {
    expect(mergePoints(points([1, 2, 3]), [{ start: '2026-11-24T11:00:00Z', value: 9 }])).toEqual(points([1, 9, 3]));
  });
});

describe('cache details', () => {
  it('"served whole" when the whole-response layer answered, instead of bucket counts', () => {
    const extensions = { responseCache: { hit: true }, cache: { REVENUE: { hit: 1, miss: 0, stale: 0 } } };
    expect(cacheDetailOf('revenue', extensions)).toEqual({ kind: 'whole' });
    expect(describeCache({ kind: 'whole' }, false)).toBe('served whole (response cache)');
    expect(cacheDetailOf('revenue', { responseCache: { hit: false }, cache: extensions.cache })).toEqual({
      kind: 'buckets',
      hit: 1,
      miss: 0,
      stale: 0,
    });
  });

  it('without extensions.cache the details are hidden, and production says which setting shows them', () => {
    expect(cacheDetailOf('orders', {})).toEqual({ kind: 'hidden' });
    expect(describeCache({ kind: 'hidden' }, true)).toContain('PAGE_CACHE_DETAILS');
  });

  it('freshness from Cache-Control', () => {
    expect(maxAgeOf('private, max-age=30')).toBe(30);
    expect(maxAgeOf('no-store')).toBe(0);
    expect(maxAgeOf(null)).toBeUndefined();
    expect(describeFreshness(30, 'private, max-age=30')).toBe('fresh for 30 s');
    expect(describeFreshness(86_347, 'private, max-age=86347')).toBe('fresh for 24 h');
    expect(describeFreshness(0, 'no-store')).toBe('not cacheable (no-store)');
    expect(describeFreshness(0, 'private, max-age=0, must-revalidate')).toContain('revalidated');
  });
});

describe('problems say what to do', () => {
  it('an expired token: get a new one, the way this server offers', () => {
    const error = { message: 'Token expired: get a new one.', extensions: { code: 'UNAUTHENTICATED' } };
    expect(problemOf(error, { production: false })).toMatchObject({
      title: 'Your token has expired.',
      action: expect.stringContaining('Get token'),
    });
    expect(problemOf(error, { production: true }).action).toContain('npm run token');
  });

  it('limits, bad input, a vendor down, a server failure', () => {
    const of = (code: string, message = 'm') => problemOf({ message, extensions: { code } }, { production: false }, 'req-7');
    expect(of('QUERY_TOO_COMPLEX').action).toContain('shorter range');
    expect(of('BAD_USER_INPUT', 'range.to must be after range.from').title).toBe('range.to must be after range.from');
    expect(of('SERVICE_UNAVAILABLE').title).toContain('exchange-rate vendor');
    const sourceDown = problemOf(
      {
        message: 'REVENUE is not cached for this range and the source database is not answering; try again in a moment.',
        extensions: { code: 'SERVICE_UNAVAILABLE', metric: 'REVENUE' },
      },
      { production: false },
    );
    expect(sourceDown.title).toContain('database is not answering');
    expect(sourceDown.action).toContain('other panels');
    expect(of('INTERNAL_SERVER_ERROR').action).toContain('req-7');
    expect(liveStoppedProblem('expired', { production: false }).title).toContain('expired');
  });
});
