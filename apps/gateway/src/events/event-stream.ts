import { DeliverPolicy } from '@nats-io/jetstream';
import { EventEnvelopeSchema, type RawEventEnvelope } from '@acai/contracts';
import type { Bus } from '@acai/eventing';
import type { ServiceMetrics } from '@acai/platform';
import { filterSubject, matchesFilter, type EventFilter } from './event-filter.js';

/** One event as a subscriber gets it: its log position, its type and its envelope as stored. */
export interface StreamedEvent {
  readonly seq: number;
  readonly type: string;
  /** The envelope exactly as stored on the stream (one line of JSON). */
  readonly json: string;
}

/** An open read of a project's events; `close` removes its consumer from the stream. */
export interface EventSubscription {
  readonly events: AsyncIterable<StreamedEvent>;
  close(): Promise<void>;
}

/**
 * A consumer that is not read for this long is removed by nats-server: the safety net for a
 * gateway that dies with streams open (otherwise `close` deletes it at once).
 */
const INACTIVE_MS = 30_000;

const decoder = new TextDecoder();

/** The events of a project from the events stream (ACAI_EVENTS), for `GET /api/v1/events`. */
export class ProjectEvents {
  /** Streams open on this gateway. */
  private readonly open;

  constructor(
    private readonly bus: Bus,
    metrics: ServiceMetrics,
  ) {
    this.open = metrics.gauge(
      'acai_event_streams_open',
      'Event streams (GET /api/v1/events) open on this gateway',
    );
  }

  /**
   * Opens an ordered, ephemeral consumer on the project's events (one filter subject: nats-server
   * 2.9), from just after `after` or, when null, from the next event appended. It exists when this
   * returns, so no event appended afterwards is missed.
   */
  async subscribe(
    project: string,
    filter: EventFilter,
    after: number | null,
  ): Promise<EventSubscription> {
    const stream = this.bus.topology.streams.events;
    const consumer = await this.bus.js.consumers.get(stream, {
      filter_subjects: filterSubject(this.bus.topology, project, filter),
      inactive_threshold: INACTIVE_MS,
      ...(after === null
        ? { deliver_policy: DeliverPolicy.New }
        : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: after + 1 }),
    });
    const messages = await consumer.consume({ max_messages: 256 });
    this.open.inc();
    let closed = false;
    const close = async () => {
      if (closed) return;
      closed = true;
      this.open.dec();
      messages.stop();
      // An ordered consumer is not deleted when it stops (it lingers until inactive): do it now.
      await consumer.delete().catch(() => undefined);
    };
    async function* events(): AsyncGenerator<StreamedEvent> {
      try {
        for await (const msg of messages) {
          const json = decoder.decode(msg.data);
          const envelope = envelopeOf(json);
          // The subject holds the project; the envelope is checked too, never trusted alone.
          if (envelope === null || envelope.project !== project) continue;
          if (!matchesFilter(filter, envelope)) continue;
          yield { seq: msg.seq, type: envelope.type, json };
        }
      } finally {
        await close();
      }
    }
    return { events: events(), close };
  }
}

/** The envelope of a stored event, or null for what is not one (never sent to a subscriber). */
function envelopeOf(json: string): RawEventEnvelope | null {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    return null;
  }
  const envelope = EventEnvelopeSchema.safeParse(raw);
  return envelope.success ? envelope.data : null;
}
