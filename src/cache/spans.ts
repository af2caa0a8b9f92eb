/**
 * OpenTelemetry spans without their cost when tracing is off: until a tracer provider is
 * registered (observability/tracing.ts does, when the OTEL_* settings ask for it), work
 * runs bare — no span, no context switch, no attributes built — where the API's no-op
 * spans would still cost a context and a closure per lookup.
 */
import { SpanStatusCode, trace, type Attributes, type Tracer } from '@opentelemetry/api';

/** True once a tracer provider has been registered globally. */
export function isTracing(): boolean {
  const provider = trace.getTracerProvider() as unknown as { getDelegate?: () => object };
  return (provider.getDelegate?.() ?? provider).constructor.name !== 'NoopTracerProvider';
}

const ignore = () => {};

/**
 * Runs `work` in an active span of `tracer` when tracing is on (ending it however work
 * ends, an error marking it), else bare.
 * @param attributes built only when there is a span to give them to.
 */
export async function inSpan<T>(
  tracer: Tracer,
  name: string,
  attributes: () => Attributes,
  work: (set: (a: Attributes) => void) => Promise<T>,
): Promise<T> {
  if (!isTracing()) return work(ignore);
  return tracer.startActiveSpan(name, { attributes: attributes() }, async (span) => {
    try {
      return await work((a) => span.setAttributes(a));
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message });
      throw error;
    } finally {
      span.end();
    }
  });
}
