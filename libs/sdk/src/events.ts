import { setTimeout as sleep } from 'node:timers/promises';
import { type z } from 'zod';
import { EventEnvelopeSchema } from '@acai/contracts';
import { AcaiApiError, AcaiConnectionError, AcaiProtocolError } from './errors.js';
import type { AcaiClient } from './client.js';
import { readSse, SseParser } from './sse.js';

/** Filters of `GET /api/v1/events` (docs: the live event stream contract). */
export interface EventFilter {
  /** Event types or families (`job.succeeded`, `run.*`). */
  readonly types?: readonly string[];
  readonly run?: string;
  readonly job?: string;
  readonly fileset?: string;
}

/** One event of the stream: its position in the log and its envelope as stored. */
export interface StreamedEvent {
  readonly position: number;
  readonly type: string;
  readonly envelope: z.output<typeof EventEnvelopeSchema>;
}

export interface FollowEventsOptions extends EventFilter {
  /** Start after this log position (default: new events only). */
  readonly after?: number;
  readonly signal?: AbortSignal;
  /** Wait before reconnecting when the server did not say (`retry:`), ms (default 1000). */
  readonly reconnectMs?: number;
  /** Called when the connection dropped and is being made again. */
  readonly onReconnect?: (lastPosition: number | undefined, cause: unknown) => void;
}

/**
 * The project's events as they happen, following the stream: when the connection drops it
 * reconnects with `Last-Event-ID`, so no event is missed nor seen twice. A refusal (bad filter,
 * bad key) ends it with an {@link AcaiApiError}; so does aborting `signal` (quietly).
 */
export async function* followEvents(
  client: AcaiClient,
  options: FollowEventsOptions = {},
): AsyncGenerator<StreamedEvent> {
  let last = options.after;
  let waitMs = options.reconnectMs ?? 1000;
  const query = {
    type: options.types === undefined ? undefined : options.types.join(','),
    run: options.run,
    job: options.job,
    fileset: options.fileset,
  };
  const aborted = () => options.signal?.aborted === true;
  while (!aborted()) {
    let cause: unknown;
    try {
      const response = await client.send('streamEvents', {
        query,
        headers: {
          accept: 'text/event-stream',
          ...(last === undefined ? {} : { 'last-event-id': String(last) }),
        },
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
      if (response.body === null) throw new AcaiProtocolError('the event stream has no body');
      const parser = new SseParser();
      for await (const message of readSse(response.body, parser)) {
        if (message.retry !== undefined) waitMs = message.retry;
        const position = Number(message.id);
        if (!Number.isSafeInteger(position)) {
          throw new AcaiProtocolError(`an event without a log position (id: '${message.id}')`);
        }
        const envelope = EventEnvelopeSchema.safeParse(JSON.parse(message.data));
        if (!envelope.success) {
          throw new AcaiProtocolError(`event ${position} is not an event envelope`);
        }
        last = position;
        yield { position, type: message.event, envelope: envelope.data };
      }
      cause = new Error('the server closed the stream');
    } catch (error) {
      if (aborted()) return;
      if (error instanceof AcaiApiError || error instanceof AcaiProtocolError) throw error;
      cause = error instanceof AcaiConnectionError ? error.message : error;
    }
    options.onReconnect?.(last, cause);
    try {
      await sleep(waitMs, undefined, options.signal ? { signal: options.signal } : {});
    } catch {
      return;
    }
  }
}
