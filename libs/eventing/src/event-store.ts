import { randomUUID } from 'node:crypto';
import { headers as newHeaders } from '@nats-io/nats-core';
import { JetStreamApiError } from '@nats-io/jetstream';
import { assertWriter, subjects, type StoredEvent } from '@acai/contracts';
import type { NewEvent } from '@acai/contracts';
import { assertFits, type Bus } from './bus.js';
import { decodeEvent, encodeJson, HEADER_TYPE, HEADER_VERSION } from './codec.js';
import { WrongExpectedVersionError } from './errors.js';
import { injectTrace, inSpan, SpanKind } from './tracing.js';

/** Identifies one aggregate instance: its stream subject is derived from these. */
export interface AggregateRef {
  readonly project: string;
  readonly aggregate: string;
  readonly id: string;
}

/**
 * The version of an aggregate is the stream sequence of its last event (0: no event yet). This is
 * what JetStream checks with `Nats-Expected-Last-Subject-Sequence`.
 */
export type ExpectedVersion = number | 'any';

export interface AppendOptions {
  readonly expectedVersion: ExpectedVersion;
  readonly correlationId?: string | null;
  readonly causationId?: string | null;
  /** Event ids, for a caller that must retry an append with the same ids (deduplicated by JetStream). */
  readonly eventIds?: readonly string[];
  /** Time of the decision; defaults to now. */
  readonly now?: Date;
}

const WRONG_LAST_SEQUENCE = 10071;

/**
 * Where aggregates' events are read and appended, with optimistic concurrency: JetStream in a
 * service ({@link EventStore}), memory in a unit test (`InMemoryEventLog` in @acai/eventing/testing).
 */
export interface EventLog {
  subjectOf(ref: AggregateRef): string;
  append(
    ref: AggregateRef,
    events: readonly NewEvent[],
    options: AppendOptions,
  ): Promise<StoredEvent[]>;
  /** The aggregate's events after version `after` (all of them by default), and its version. */
  read(ref: AggregateRef, after?: number): Promise<{ events: StoredEvent[]; version: number }>;
}

export class EventStore implements EventLog {
  /**
   * @param writer the service appending: each event type's writers are declared in the catalogue
   *   and an append by another is refused. Tools and tests that write any event leave it out.
   */
  constructor(
    private readonly bus: Bus,
    private readonly writer?: string,
  ) {}

  subjectOf(ref: AggregateRef): string {
    return subjects.aggregate(this.bus.topology, ref.project, ref.aggregate, ref.id);
  }

  /**
   * Appends events to one aggregate. The first event is published only if the aggregate is still at
   * `expectedVersion`, so of two concurrent writers exactly one wins; the loser gets
   * WrongExpectedVersionError. Each event's id is its JetStream message id, so a retried publish is
   * stored once. Returns the stored events with their positions; the last one's seq is the new version.
   */
  async append(
    ref: AggregateRef,
    events: readonly NewEvent[],
    options: AppendOptions,
  ): Promise<StoredEvent[]> {
    if (this.writer !== undefined)
      for (const event of events) assertWriter(this.writer, event.type);
    const subject = this.subjectOf(ref);
    const stream = this.bus.topology.streams.events;
    const occurredAt = (options.now ?? new Date()).toISOString();
    const stored: StoredEvent[] = [];
    let expected = options.expectedVersion;
    for (const [i, event] of events.entries()) {
      const envelope = {
        id: options.eventIds?.[i] ?? randomUUID(),
        type: event.type,
        version: 1,
        project: ref.project,
        aggregate: ref.aggregate,
        aggregateId: ref.id,
        occurredAt,
        causationId: options.causationId ?? null,
        correlationId: options.correlationId ?? null,
        data: event.data,
      };
      const seq = await inSpan(
        `publish ${event.type}`,
        {
          kind: SpanKind.PRODUCER,
          attributes: {
            'acai.service': this.bus.name,
            'messaging.destination.name': subject,
            'acai.event.type': event.type,
          },
        },
        async () => {
          const h = newHeaders();
          h.set(HEADER_TYPE, event.type);
          h.set(HEADER_VERSION, '1');
          injectTrace(h);
          const data = encodeJson(envelope);
          // Not retried: the same decision would make the same event again.
          assertFits(
            this.bus,
            data.length,
            `The ${event.type} event of ${ref.aggregate} ${ref.id}`,
            'what caused it carries too much (a run spec, messages or outputs); make it smaller',
          );
          try {
            const ack = await this.bus.js.publish(subject, data, {
              msgID: envelope.id,
              headers: h,
              ...(expected === 'any' ? {} : { expect: { lastSubjectSequence: expected } }),
            });
            return ack.seq;
          } catch (error) {
            if (
              error instanceof JetStreamApiError &&
              error.code === WRONG_LAST_SEQUENCE &&
              expected !== 'any'
            ) {
              throw new WrongExpectedVersionError(subject, expected, error);
            }
            throw error;
          }
        },
      );
      expected = seq;
      stored.push({ ...envelope, position: { stream, subject, seq } } as StoredEvent);
    }
    return stored;
  }

  /**
   * Reads the events of one aggregate in order, and its version (0 when it has none): all of them,
   * or only those after `after` (a version already known), which costs one request when there
   * are none.
   */
  async read(ref: AggregateRef, after = 0): Promise<{ events: StoredEvent[]; version: number }> {
    const subject = this.subjectOf(ref);
    const stream = this.bus.topology.streams.events;
    const events: StoredEvent[] = [];
    let seq = after + 1;
    let version = after;
    for (;;) {
      const msg = await this.bus.jsm.direct.getMessage(stream, { seq, next_by_subj: subject });
      if (msg === null) break;
      events.push(decodeEvent(msg.data, { stream, subject, seq: msg.seq }));
      version = msg.seq;
      seq = msg.seq + 1;
    }
    return { events, version };
  }
}
