import { propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

let provider: NodeTracerProvider | undefined;

/**
 * Installs tracing for this process once: W3C trace context, and OTLP/HTTP export when an endpoint
 * is configured. Tests pass their own processors (an in-memory exporter) instead.
 */
export function startTelemetry(options: {
  service: string;
  otlpEndpoint?: string | undefined;
  processors?: SpanProcessor[];
}): void {
  if (provider !== undefined) return;
  const processors = [...(options.processors ?? [])];
  if (options.otlpEndpoint !== undefined) {
    const url = `${options.otlpEndpoint.replace(/\/$/, '')}/v1/traces`;
    processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url })));
  }
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  if (processors.length === 0) return;
  provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.service }),
    spanProcessors: processors,
  });
  provider.register({ propagator: new W3CTraceContextPropagator() });
}

export async function stopTelemetry(): Promise<void> {
  await provider?.shutdown();
  provider = undefined;
  trace.disable();
}
