import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider, type SpanProcessor } from '@opentelemetry/sdk-trace';

let provider: TracerProvider | undefined;
let users = 0;

/**
 * Installs tracing for this process when an OTLP endpoint is configured (or a test passes its own
 * processors): W3C trace context in every message, and a tracer that exports spans: acai's own
 * (every bus hop) and, in a
 * service started by its main.ts, those of HTTP, fetch and Postgres (see `instrumentation.ts`).
 * Several services in one process share it; it ends when the last one stops
 * ({@link stopTelemetry}).
 */
export function startTelemetry(options: {
  service: string;
  otlpEndpoint?: string | undefined;
  processors?: SpanProcessor[];
}): void {
  users += 1;
  if (users > 1) return;
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const processors = [...(options.processors ?? [])];
  if (options.otlpEndpoint !== undefined) {
    const url = `${options.otlpEndpoint.replace(/\/$/, '')}/v1/traces`;
    processors.push(new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url }) }));
  }
  if (processors.length === 0) return;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.service }),
    spanProcessors: processors,
  });
  trace.setGlobalTracerProvider(provider);
}

/** Flushes and ends tracing once the last service of this process stops; spans in hand are sent. */
export async function stopTelemetry(): Promise<void> {
  users = Math.max(0, users - 1);
  if (users > 0) return;
  await provider?.shutdown();
  provider = undefined;
  trace.disable();
  context.disable();
}
