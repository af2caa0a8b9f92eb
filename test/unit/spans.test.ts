/** Spans only when tracing is on: off, work runs bare and its attributes are never built. */
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { afterEach, describe, expect, it } from 'vitest';
import { inSpan, isTracing } from '../../src/cache/spans.js';

afterEach(() => trace.disable());

describe('inSpan', () => {
  it('with no tracer provider registered: runs the work bare, builds no attributes', async () => {
    expect(isTracing()).toBe(false);
    let built = 0;
    const got = await inSpan(
      trace.getTracer('t'),
      'work',
      () => ({ built: ++built }),
      async (set) => {
        set({ ignored: true });
        return 42;
      },
    );
    expect(got).toBe(42);
    expect(built).toBe(0);
  });

  it('once a provider is registered: one span per call, with its attributes, an error marking it', async () => {
    const exporter = new InMemorySpanExporter();
    expect(trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }))).toBe(true);
    expect(isTracing()).toBe(true);
    const tracer = trace.getTracer('t');
    await inSpan(
      tracer,
      'ok',
      () => ({ a: 1 }),
      async (set) => set({ b: 2 }),
    );
    await expect(
      inSpan(
        tracer,
        'fails',
        () => ({}),
        async () => {
          throw new Error('boom');
        },
      ),
    ).rejects.toThrow('boom');
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name)).toEqual(['ok', 'fails']);
    expect(spans[0]!.attributes).toEqual({ a: 1, b: 2 });
    expect(spans[1]!.status.message).toBe('boom');
  });
});
