/**
 * OpenTelemetry: off by default; when on, a span per GraphQL operation with the
 * cache's lookups, recomputes and lock waits, and the vendor call, nested inside,
 * with semantic-convention attributes. Checked with an in-memory exporter.
 */
import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildKey, lockKey } from '../../src/cache/keys.js';
import { loadConfig } from '../../src/config/index.js';
import { startTracing, type Tracing } from '../../src/observability/tracing.js';
import { DAY_MS, HOUR_MS, iso, startTestApp, type TestApp } from '../helpers/app.js';
import { startFakeVendor, type FakeVendor } from '../helpers/fake-vendor.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis.js';
import { Redis } from 'ioredis';

describe('tracing settings', () => {
  it('is off unless the standard OTEL_* variables turn it on', () => {
    expect(loadConfig({}).tracing.enabled).toBe(false);
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'otlp' }).tracing).toMatchObject({ enabled: true, exporter: 'otlp' });
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracing).toMatchObject({
      enabled: true,
      endpoint: 'http://collector:4318/v1/traces',
    });
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }).tracing.enabled).toBe(false);
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).tracing.enabled).toBe(false);
    expect(() => loadConfig({ OTEL_TRACES_EXPORTER: 'zipkin' })).toThrow(/OTEL_TRACES_EXPORTER/);
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'console', OTEL_SERVICE_NAME: 'dash-eu' }).tracing).toMatchObject({
      serviceName: 'dash-eu',
      exporter: 'console',
    });
  });

  it('records nothing while off', () => {
    const tracing = startTracing(loadConfig({}).tracing);
    const span = trace.getTracer('t').startSpan('x');
    expect(span.isRecording()).toBe(false);
    span.end();
    return tracing.shutdown();
  });
});

describe('spans when on', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  let t: TestApp;
  let redis: RedisServerHandle;
  let vendor: FakeVendor;
  beforeAll(async () => {
    tracing = startTracing(loadConfig({ OTEL_TRACES_EXPORTER: 'otlp' }).tracing, new SimpleSpanProcessor(exporter));
    [redis, vendor] = await Promise.all([startRedisServer(), startFakeVendor()]);
    t = await startTestApp({ env: { REDIS_URL: redis.url, FX_API_URL: vendor.url, CACHE_LOCK_WAIT_MS: '200' } });
  });
  afterAll(async () => {
    await t?.close();
    await Promise.all([redis?.stop(), vendor?.close()]);
    await tracing?.shutdown();
  });

  const byName = (spans: ReadableSpan[], name: string) => spans.filter((s) => s.name === name);
  const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

  it('nest lookups, recomputes and the vendor call under the operation span', async () => {
    exporter.reset();
    const range = `range: { from: "${iso(Date.now() - 2 * DAY_MS)}", to: "${iso(Date.now() - DAY_MS)}" }`;
    const res = await t.gql(
      `query Traced { dashboard(${range}) { orders { total } revenue { total } revenueIn(currency: "EUR") { amount } } }`,
    );
    expect(res.body.errors).toBeUndefined();
    const spans = exporter.getFinishedSpans();
    const [operation] = byName(spans, 'query Traced');
    expect(operation).toBeDefined();
    expect(operation!.attributes).toMatchObject({ 'graphql.operation.type': 'query', 'graphql.operation.name': 'Traced' });
    const lookups = byName(spans, 'cache.lookup');
    expect(lookups.map((s) => s.attributes['cache.metric']).sort()).toEqual(['ORDERS', 'REVENUE']);
    for (const lookup of lookups) {
      expect(parentOf(lookup)).toBe(operation!.spanContext().spanId);
      expect(lookup.attributes).toMatchObject({ 'db.system': 'redis', 'cache.misses': 25, 'cache.hits': 0, 'cache.buckets': 25 });
    }
    const recomputes = byName(spans, 'cache.recompute');
    expect(recomputes.map((s) => s.attributes['cache.metric']).sort()).toEqual(['ORDERS', 'REVENUE']);
    for (const r of recomputes) expect(lookups.map((l) => l.spanContext().spanId)).toContain(parentOf(r));
    const [vendorCall] = byName(spans, 'fx.vendor GET');
    expect(vendorCall?.attributes).toMatchObject({
      'http.request.method': 'GET',
      'http.response.status_code': 200,
      'server.address': '127.0.0.1',
    });
    expect(vendorCall!.spanContext().traceId).toBe(operation!.spanContext().traceId);
  });

  it('show a lock wait inside the lookup that waited', async () => {
    exporter.reset();
    const from = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 5 * DAY_MS;
    const first = buildKey({
      prefix: 'dash',
      cacheVersion: '1',
      tenant: 'acme',
      metric: 'SESSIONS',
      metricVersion: 1,
      granularity: 'HOUR',
      bucketStart: from,
    });
    const client = new Redis(redis.url);
    try {
      // Another worker holds the span's lock and never writes: the lookup waits, then computes.
      await client.set(lockKey(first, 3), 'someone-else', 'PX', 10_000);
      const res = await t.gql(`{ dashboard(range: { from: "${iso(from)}", to: "${iso(from + 3 * HOUR_MS)}" }) { sessions { total } } }`);
      expect(res.body.errors).toBeUndefined();
    } finally {
      client.disconnect();
    }
    const spans = exporter.getFinishedSpans();
    const [wait] = byName(spans, 'cache.lock_wait');
    expect(wait?.attributes).toMatchObject({
      'cache.metric': 'SESSIONS',
      'cache.lock_wait.outcome': 'computed_here',
      'db.system': 'redis',
    });
    const [lookup] = byName(spans, 'cache.lookup');
    expect(parentOf(wait!)).toBe(lookup!.spanContext().spanId);
  });
});
