import { pino, type Logger } from 'pino';
import { context, trace } from '@opentelemetry/api';

export type { Logger };

/** Paths never written to a log, whatever a caller passes in. */
export const REDACTED_PATHS = [
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  '*.authorization',
  'apiKey',
  '*.apiKey',
  'key',
  'password',
  '*.password',
  'DATABASE_URL',
  '*.DATABASE_URL',
  'databaseUrl',
  'secret',
  '*.secret',
];

/** Masks the password of a URL such as postgres://user:pass@host/db. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):([^@]+)@/, '//$1:***@');
}

/**
 * Structured JSON logs (pino) with the service name and, inside a traced operation, the trace
 * and span ids, so a log line leads to its trace. Secrets are redacted by path.
 */
export function createLogger(
  service: string,
  level: string,
  destination?: pino.DestinationStream,
): Logger {
  return pino(
    {
      level,
      base: { service },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      mixin() {
        const span = trace.getSpan(context.active());
        if (span === undefined) return {};
        const { traceId, spanId } = span.spanContext();
        return { traceId, spanId };
      },
    },
    destination,
  );
}
