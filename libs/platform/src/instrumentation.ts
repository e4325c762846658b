import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';

/**
 * Imported first by each service's main.ts, before anything else is loaded: the libraries acai
 * talks through are then traced without code of ours, as spans of the tracer `startTelemetry`
 * installs (none are recorded while it installs none): HTTP in and out (API requests, with their
 * route), fetch (undici) and Postgres queries (pg). Instrumentation patches a module when it is
 * loaded, which is why this runs before the service's own imports.
 */
registerInstrumentations({
  instrumentations: [
    // The ops endpoints are polled (health checks, Prometheus): no span for each poll.
    new HttpInstrumentation({
      ignoreIncomingRequestHook: (request) =>
        /^\/(healthz|readyz|metrics)(\?|$)/.test(request.url ?? ''),
    }),
    new UndiciInstrumentation(),
    new PgInstrumentation(),
  ],
});
