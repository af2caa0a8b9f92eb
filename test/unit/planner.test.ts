import { tombstoneTime } from '../../src/cache/store.js';
import { describe, expect, it } from 'vitest';
import { BUCKET_MS, bucketStart, type Granularity } from '../../src/cache/buckets.js';
import { createInvalidator } from '../../src/cache/invalidation.js';
import { buildKey } from '../../src/cache/keys.js';
import { createMemoryStore } from '../../src/cache/memory-store.js';
import type { OrderRecorded, SessionRecorded } from '../../src/events/types.js';
import type { MetricDefinition, MetricName } from '../../src/metrics/define.js';
import { createInvalidationService } from '../../src/metrics/invalidation-service.js';
import { metricPrefix, planEvent as planEventAmong, planRange as planRangeAmong, type KeySpace } from '../../src/metrics/planner.js';
import { DASHBOARD_REGISTRY } from '../../src/metrics/registry.js';
import { REGIONS } from '../../src/source/types.js';
import { recordingObserver } from './cache-test-kit.js';

// The dashboard's declarations, as the server plans with them.
const METRICS: Record<MetricName, MetricDefinition> = Object.fromEntries(DASHBOARD_REGISTRY.all.map((m) => [m.name, m]));
const STORED_METRICS = DASHBOARD_REGISTRY.stored;
const planEvent = (space: KeySpace, event: OrderRecorded | SessionRecorded) => planEventAmong(space, event, STORED_METRICS);
const planRange = (space: KeySpace, tenant: string, names: MetricName[], from: number, to: number) =>
  planRangeAmong(
    space,
    tenant,
    STORED_METRICS.filter((m) => names.includes(m.name)),
    from,
    to,
  );
const storedMetricsOf = (names: MetricName[] | undefined) => DASHBOARD_REGISTRY.storedBehind(names).map((m) => m.name);

const HOUR = BUCKET_MS.HOUR;
const DAY = BUCKET_MS.DAY;
const SPACE: KeySpace = { prefix: 'dash', cacheVersion: '1' };
const GRANULARITIES: Granularity[] = ['HOUR', 'DAY'];
const t = (iso: string) => Date.parse(iso);

const order: OrderRecorded = {
  type: 'order.recorded',
  id: 'o-1',
  tenant: 'acme',
  region: 'EU',
  occurredAt: t('2026-11-25T14:37:12.345Z'),
  productId: 'p-1',
  customerId: 'c-1',
  amount: 19.99,
};

const session: SessionRecorded = {
  type: 'session.recorded',
  id: 's-1',
  tenant: 'acme',
  region: 'NA',
  occurredAt: t('2026-11-25T23:59:59.999Z'),
  visitorId: 'v-1',
};

const keyOf = (tenant: string, metric: MetricName, region: string | undefined, granularity: Granularity, bucket: number) =>
  buildKey({ ...SPACE, tenant, metric, metricVersion: METRICS[metric]!.version, region, granularity, bucketStart: bucket });

/** Every key of one cached bucket family of `metric`, as the read path builds it. */
const keysFor = (tenant: string, metric: MetricName, regions: Array<string | undefined>, bucketsOf: (g: Granularity) => number[]) =>
  GRANULARITIES.flatMap((g) => bucketsOf(g).flatMap((bucket) => regions.map((region) => keyOf(tenant, metric, region, g, bucket))));

describe('planEvent', () => {
  it('plans only the stored metrics whose declarations name order.recorded', () => {
    const plan = planEvent(SPACE, order);
    expect([...plan.keys()].sort()).toEqual(['CUSTOMERS', 'ORDERS', 'REVENUE', 'TOP_PRODUCTS']);
    expect(plan.has('SESSIONS')).toBe(false);
    // Derived metrics are never stored, so never planned.
    expect(plan.has('AVERAGE_ORDER_VALUE')).toBe(false);
    expect(plan.has('CONVERSION_RATE')).toBe(false);
    // The same set, read from the declarations.
    expect([...plan.keys()].sort()).toEqual(
      STORED_METRICS.filter((m) => m.events.includes('order.recorded'))
        .map((m) => m.name)
        .sort(),
    );
  });

  it('plans only SESSIONS for session.recorded', () => {
    expect([...planEvent(SPACE, session).keys()]).toEqual(['SESSIONS']);
  });

  it('drops, per metric, the bucket containing occurredAt at both granularities, for all regions and the event region', () => {
    const plan = planEvent(SPACE, order);
    for (const [metric, keys] of plan) {
      const want = keysFor('acme', metric, [undefined, 'EU'], (g) => [bucketStart(order.occurredAt, g)]);
      expect(new Set(keys), metric).toEqual(new Set(want));
      expect(keys).toHaveLength(4);
    }
    // Spelled out once, so a wrong bucket or scope shows plainly.
    expect(new Set(plan.get('REVENUE'))).toEqual(
      new Set([
        `dash:1:{acme}:REVENUE:1:r=*:H:${t('2026-11-25T14:00:00Z')}`,
        `dash:1:{acme}:REVENUE:1:r=EU:H:${t('2026-11-25T14:00:00Z')}`,
        `dash:1:{acme}:REVENUE:1:r=*:D:${t('2026-11-25T00:00:00Z')}`,
        `dash:1:{acme}:REVENUE:1:r=EU:D:${t('2026-11-25T00:00:00Z')}`,
      ]),
    );
  });

  it('never touches other regions, other tenants, other buckets or role-scoped keys', () => {
    const keys = [...planEvent(SPACE, order).values()].flat();
    for (const key of keys) {
      expect(key).toMatch(/^dash:1:\{acme\}:/);
      expect(key).toMatch(/:r=(\*|EU):/);
      expect(key).not.toContain('role=');
    }
    for (const region of REGIONS.filter((r) => r !== 'EU')) expect(keys.some((k) => k.includes(`r=${region}`))).toBe(false);
    const hours = new Set(keys.filter((k) => k.includes(':H:')).map((k) => Number(k.split(':').pop())));
    const days = new Set(keys.filter((k) => k.includes(':D:')).map((k) => Number(k.split(':').pop())));
    expect(hours).toEqual(new Set([t('2026-11-25T14:00:00Z')]));
    expect(days).toEqual(new Set([t('2026-11-25T00:00:00Z')]));
  });

  it('puts an event on the last millisecond of a day into that day and that hour', () => {
    const keys = planEvent(SPACE, session).get('SESSIONS')!;
    expect(new Set(keys)).toEqual(
      new Set(
        keysFor('acme', 'SESSIONS', [undefined, 'NA'], (g) => [g === 'HOUR' ? t('2026-11-25T23:00:00Z') : t('2026-11-25T00:00:00Z')]),
      ),
    );
  });

  it('keys the event tenant only, escaped as the read path escapes it', () => {
    const keys = [...planEvent(SPACE, { ...order, tenant: 'a:b{c}' }).values()].flat();
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(key.startsWith('dash:1:{a%3Ab%7Bc%7D}:')).toBe(true);
  });

  it('uses the key space it is given', () => {
    const keys = [...planEvent({ prefix: 'other', cacheVersion: '9' }, order).values()].flat();
    for (const key of keys) expect(key.startsWith('other:9:{acme}:')).toBe(true);
  });
});

describe('planRange', () => {
  const from = t('2026-11-10T22:30:00Z');
  const to = t('2026-11-12T01:00:00Z');
  const hourStarts = (a: number, b: number) => Array.from({ length: (b - a) / HOUR }, (_, i) => a + i * HOUR);

  it('covers every bucket overlapping [from, to) for every region scope, at both granularities', () => {
    const plan = planRange(SPACE, 'acme', ['REVENUE', 'SESSIONS'], from, to);
    expect([...plan.keys()].sort()).toEqual(['REVENUE', 'SESSIONS']);
    const hours = hourStarts(t('2026-11-10T22:00:00Z'), t('2026-11-12T01:00:00Z')); // 27 hours; 01:00 is excluded
    const days = [t('2026-11-10T00:00:00Z'), t('2026-11-11T00:00:00Z'), t('2026-11-12T00:00:00Z')];
    expect(hours).toHaveLength(27);
    for (const metric of ['REVENUE', 'SESSIONS'] as const) {
      const keys = plan.get(metric)!;
      const want = keysFor('acme', metric, [undefined, ...REGIONS], (g) => (g === 'HOUR' ? hours : days));
      expect(new Set(keys), metric).toEqual(new Set(want));
      expect(keys).toHaveLength((27 + 3) * 4);
      expect(new Set(keys).size).toBe(keys.length);
    }
  });

  it('excludes the bucket that starts at `to`', () => {
    const edge = t('2026-11-12T00:00:00Z');
    const keys = planRange(SPACE, 'acme', ['ORDERS'], t('2026-11-11T00:00:00Z'), edge).get('ORDERS')!;
    expect(keys).toHaveLength((24 + 1) * 4);
    expect(keys.some((k) => k.endsWith(`:${edge}`))).toBe(false);
  });

  it('covers one bucket per granularity for a range inside one hour', () => {
    const keys = planRange(SPACE, 'acme', ['CUSTOMERS'], t('2026-11-11T05:10:00Z'), t('2026-11-11T05:20:00Z')).get('CUSTOMERS')!;
    expect(new Set(keys)).toEqual(
      new Set(
        keysFor('acme', 'CUSTOMERS', [undefined, ...REGIONS], (g) => [
          g === 'HOUR' ? t('2026-11-11T05:00:00Z') : t('2026-11-11T00:00:00Z'),
        ]),
      ),
    );
  });

  it('plans only the metrics named, and nothing for derived names', () => {
    expect([...planRange(SPACE, 'acme', ['TOP_PRODUCTS'], from, to).keys()]).toEqual(['TOP_PRODUCTS']);
    expect(planRange(SPACE, 'acme', ['AVERAGE_ORDER_VALUE'], from, to).size).toBe(0);
    expect(planRange(SPACE, 'acme', [], from, to).size).toBe(0);
  });

  it('keys the given tenant only', () => {
    for (const key of [...planRange(SPACE, 'globex', ['REVENUE'], from, to).values()].flat()) {
      expect(key.startsWith('dash:1:{globex}:REVENUE:1:')).toBe(true);
    }
  });

  it('agrees with planEvent: the event plan is inside the range plan of its bucket', () => {
    const range = planRange(SPACE, 'acme', ['REVENUE'], order.occurredAt, order.occurredAt + 1).get('REVENUE')!;
    for (const key of planEvent(SPACE, order).get('REVENUE')!) expect(range).toContain(key);
    expect(range).toHaveLength(2 * 4);
    // Granularity-aligned day bucket too.
    expect(range).toContain(keyOf('acme', 'REVENUE', 'APAC', 'DAY', Math.floor(order.occurredAt / DAY) * DAY));
  });
});

describe('storedMetricsOf', () => {
  const stored = STORED_METRICS.map((m) => m.name);

  it('means every stored metric when no names are given', () => {
    expect(storedMetricsOf(undefined)).toEqual(stored);
    expect(storedMetricsOf([])).toEqual(stored);
    expect([...stored].sort()).toEqual(['CUSTOMERS', 'ORDERS', 'REVENUE', 'SESSIONS', 'TOP_PRODUCTS']);
  });

  it('maps a derived metric to its inputs', () => {
    expect(storedMetricsOf(['AVERAGE_ORDER_VALUE']).sort()).toEqual(['ORDERS', 'REVENUE']);
    expect(storedMetricsOf(['CONVERSION_RATE']).sort()).toEqual(['ORDERS', 'SESSIONS']);
  });

  it('keeps stored metrics as they are and removes duplicates', () => {
    expect(storedMetricsOf(['CUSTOMERS'])).toEqual(['CUSTOMERS']);
    expect(storedMetricsOf(['ORDERS', 'AVERAGE_ORDER_VALUE', 'CONVERSION_RATE']).sort()).toEqual(['ORDERS', 'REVENUE', 'SESSIONS']);
  });

  it('never returns a derived metric', () => {
    const all = Object.keys(METRICS);
    const result = storedMetricsOf(all);
    expect(result.every((name) => METRICS[name]!.combine !== 'derived')).toBe(true);
    expect(new Set(result)).toEqual(new Set(stored));
  });
});

describe('metricPrefix', () => {
  it('prefixes every key of that metric and tenant, and no other', () => {
    const prefix = metricPrefix(SPACE, 'acme', METRICS.ORDERS as (typeof STORED_METRICS)[number]);
    expect(prefix).toBe('dash:1:{acme}:ORDERS:1:');
    expect(keyOf('acme', 'ORDERS', 'EU', 'HOUR', t('2026-11-25T14:00:00Z')).startsWith(prefix)).toBe(true);
    expect(keyOf('acme', 'ORDERS', undefined, 'DAY', t('2026-11-25T00:00:00Z')).startsWith(prefix)).toBe(true);
    expect(keyOf('acme2', 'ORDERS', 'EU', 'HOUR', t('2026-11-25T14:00:00Z')).startsWith(prefix)).toBe(false);
    expect(keyOf('acme', 'REVENUE', 'EU', 'HOUR', t('2026-11-25T14:00:00Z')).startsWith(prefix)).toBe(false);
  });
});

describe('createInvalidationService over the memory store', () => {
  async function seeded() {
    const store = createMemoryStore();
    const observer = recordingObserver();
    const service = createInvalidationService({ space: SPACE, invalidator: createInvalidator(store, observer) });
    const hour = t('2026-11-25T14:00:00Z');
    const day = t('2026-11-25T00:00:00Z');
    const keys = {
      revenueAllHour: keyOf('acme', 'REVENUE', undefined, 'HOUR', hour),
      revenueEuDay: keyOf('acme', 'REVENUE', 'EU', 'DAY', day),
      revenueNaHour: keyOf('acme', 'REVENUE', 'NA', 'HOUR', hour),
      revenueEuPrevHour: keyOf('acme', 'REVENUE', 'EU', 'HOUR', hour - HOUR),
      sessionsEuHour: keyOf('acme', 'SESSIONS', 'EU', 'HOUR', hour),
      otherTenant: keyOf('globex', 'REVENUE', 'EU', 'HOUR', hour),
    };
    await store.setMany(Object.values(keys).map((key) => ({ key, value: 'v', ttlMs: 60_000 })));
    return { store, observer, service, keys };
  }

  it('drops exactly the planned keys for an event and counts them under the event type', async () => {
    const { store, observer, service, keys } = await seeded();
    expect(await service.onEvent(order)).toBe(2);
    const [allHour, euDay, naHour, prevHour, sessions, other] = await store.getMany(Object.values(keys));
    // Dropped keys hold a tombstone for a while (so that an older recompute cannot write back).
    expect([allHour, euDay].map((v) => tombstoneTime(v))).toEqual([expect.any(Number), expect.any(Number)]);
    expect([naHour, prevHour, sessions, other]).toEqual(['v', 'v', 'v', 'v']);
    expect(observer.invalidations).toEqual([{ metric: 'REVENUE', reason: 'order.recorded', count: 2 }]);
  });

  it('drops all cached time of the named metrics for a tenant when no range is given', async () => {
    const { store, service, keys } = await seeded();
    expect(await service.manual('acme', ['AVERAGE_ORDER_VALUE'])).toBe(4);
    expect(await store.getMany([keys.sessionsEuHour, keys.otherTenant])).toEqual(['v', 'v']);
    expect(await store.getMany([keys.revenueAllHour, keys.revenueEuDay, keys.revenueNaHour, keys.revenueEuPrevHour])).toEqual([
      null,
      null,
      null,
      null,
    ]);
  });

  it('drops only the range, every scope, when one is given', async () => {
    const { store, service, keys } = await seeded();
    const from = t('2026-11-25T14:00:00Z');
    expect(await service.manual('acme', ['REVENUE'], { from, to: from + HOUR })).toBe(3);
    expect((await store.getMany([keys.revenueAllHour, keys.revenueEuDay, keys.revenueNaHour])).map((v) => tombstoneTime(v))).toEqual([
      expect.any(Number),
      expect.any(Number),
      expect.any(Number),
    ]);
    expect(await store.getMany([keys.revenueEuPrevHour, keys.sessionsEuHour, keys.otherTenant])).toEqual(['v', 'v', 'v']);
  });
});
