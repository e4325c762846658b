import { commonConfig, loadConfig } from './config.js';

/**
 * Imported first by each service's main.ts, before anything else is loaded: when traces are
 * exported (`OTEL_EXPORTER_OTLP_ENDPOINT` set), the libraries acai talks through are traced without
 * code of ours, as spans of the tracer `startTelemetry` installs: HTTP in and out (API requests,
 * with their route), fetch (undici) and Postgres queries (pg). Instrumentation patches a module
 * when it is loaded, which is why this runs before the service's own imports.
 *
 * With no endpoint nothing is patched: no span would be recorded, and the patches cost every
 * query and request a context lookup and a no-op span (about 4% of the scheduler's CPU while
 * dispatching, see docs/benchmarks.md). An endpoint that is not a URL is left to the service's own
 * config check at boot, which names it.
 */
const tracing = (() => {
  try {
    return (
      loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: commonConfig.OTEL_EXPORTER_OTLP_ENDPOINT })
        .OTEL_EXPORTER_OTLP_ENDPOINT !== undefined
    );
  } catch {
    return false;
  }
})();

if (tracing) {
  const [{ registerInstrumentations }, { HttpInstrumentation }, { PgInstrumentation }, undici] =
    await Promise.all([
      import('@opentelemetry/instrumentation'),
      import('@opentelemetry/instrumentation-http'),
      import('@opentelemetry/instrumentation-pg'),
      import('@opentelemetry/instrumentation-undici'),
    ]);
  registerInstrumentations({
    instrumentations: [
      // The ops endpoints are polled (health checks, Prometheus): no span for each poll.
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) =>
          /^\/(healthz|readyz|metrics)(\?|$)/.test(request.url ?? ''),
      }),
      new undici.UndiciInstrumentation(),
      new PgInstrumentation(),
    ],
  });
}
