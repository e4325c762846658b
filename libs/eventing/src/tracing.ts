import {
  context,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type TextMapGetter,
  type TextMapSetter,
} from '@opentelemetry/api';
import type { MsgHdrs } from '@nats-io/nats-core';

export const tracer = () => trace.getTracer('@acai/eventing');

const setter: TextMapSetter<MsgHdrs> = {
  set(carrier, key, value) {
    carrier.set(key, value);
  },
};

const getter: TextMapGetter<MsgHdrs | undefined> = {
  keys(carrier) {
    return carrier === undefined ? [] : carrier.keys();
  },
  get(carrier, key) {
    if (carrier === undefined || !carrier.has(key)) return undefined;
    return carrier.get(key);
  },
};

/** Writes the active trace context (W3C traceparent) into NATS message headers. */
export function injectTrace(headers: MsgHdrs, ctx: Context = context.active()): void {
  propagation.inject(ctx, headers, setter);
}

/** The trace context a message carries, to continue its trace in this process. */
export function extractTrace(headers: MsgHdrs | undefined): Context {
  return propagation.extract(context.active(), headers, getter);
}

/** Runs `fn` in a span, recording failures; the span ends when `fn` settles. */
export async function inSpan<T>(
  name: string,
  options: { kind: SpanKind; attributes?: Record<string, string | number>; parent?: Context },
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = options.parent ?? context.active();
  const span = tracer().startSpan(
    name,
    { kind: options.kind, attributes: options.attributes ?? {} },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (error) {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: error instanceof Error ? error.message : String(error),
    });
    throw error;
  } finally {
    span.end();
  }
}

/** The trace context this code runs in (to continue its trace later, elsewhere). */
export function currentTrace(): Context {
  return context.active();
}

/** Runs `fn` in a trace context kept from earlier (see {@link currentTrace}). */
export function withTrace<T>(ctx: Context, fn: () => Promise<T>): Promise<T> {
  return context.with(ctx, fn);
}

export type { Context as TraceContext };
export { SpanKind };
