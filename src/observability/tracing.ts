/**
 * OpenTelemetry tracing: off by default; on with the standard OTEL_* variables (see
 * config). When off, every span below is a no-op of @opentelemetry/api and costs
 * next to nothing.
 */
import { trace, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ConsoleSpanExporter, NodeTracerProvider, type SpanProcessor } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { Config } from '../config/index.js';

/** The tracer every part of the service uses. */
export function tracer(): Tracer {
  return trace.getTracer('dashboard-api');
}

/** Tracing once started; `shutdown` is safe to call when tracing is off. */
export interface Tracing {
  /** Flushes pending spans and stops. */
  shutdown(): Promise<void>;
}

/**
 * Registers a global tracer provider when tracing is on.
 * @param processor replaces the exporter from the config (tests pass an in-memory one).
 */
export function startTracing(settings: Config['tracing'], processor?: SpanProcessor): Tracing {
  if (!settings.enabled && !processor) return { shutdown: async () => {} };
  const exporter =
    settings.exporter === 'console'
      ? new ConsoleSpanExporter()
      : new OTLPTraceExporter({ ...(settings.endpoint ? { url: settings.endpoint } : {}), headers: { ...settings.headers } });
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.serviceName }),
    spanProcessors: [processor ?? new BatchSpanProcessor(exporter)],
  });
  provider.register();
  return { shutdown: () => provider.shutdown() };
}
