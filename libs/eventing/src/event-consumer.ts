import { AckPolicy, DeliverPolicy, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import type { StoredEvent } from '@acai/contracts';
import { ensureDurableConsumer, type Bus } from './bus.js';
import { decodeEvent, eventTypeOf } from './codec.js';
import type { DeadLetterSink } from './dead-letters.js';
import { deadLetterReason, describeError, isNonRetryable, NonRetryableError } from './errors.js';
import { silentLogger, type EventingLogger } from './logger.js';
import { extractTrace, inSpan, SpanKind } from './tracing.js';

export interface EventConsumerOptions {
  /** Durable name, shared by every replica of the service: they split the work. */
  readonly durable: string;
  readonly filterSubject: string;
  /** Event types this consumer handles; others are acknowledged unread. */
  readonly accepts: (type: string) => boolean;
  readonly handle: (event: StoredEvent) => Promise<void>;
  readonly deadLetters: DeadLetterSink;
  readonly logger?: EventingLogger;
  /** Messages processed at once; events of one aggregate are always processed one after another. */
  readonly concurrency?: number;
  readonly maxDeliver?: number;
  readonly ackWaitMs?: number;
}

/**
 * A durable pull consumer on the events stream. Events of one aggregate (one subject) are handled
 * in order; different aggregates in parallel. A handler that throws a retryable error gets the
 * message again later (with backoff); a poison message or a non-retryable error is dead-lettered
 * with its reason and the consumer carries on.
 */
export class EventConsumer {
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private readonly chains = new Map<string, Promise<void>>();
  private inFlight = 0;
  private slotFreed: (() => void) | undefined;
  private readonly logger: EventingLogger;
  private readonly concurrency: number;
  private readonly maxDeliver: number;

  constructor(
    private readonly bus: Bus,
    private readonly options: EventConsumerOptions,
  ) {
    this.logger = options.logger ?? silentLogger;
    this.concurrency = options.concurrency ?? 64;
    this.maxDeliver = options.maxDeliver ?? 8;
  }

  async start(): Promise<void> {
    const stream = this.bus.topology.streams.events;
    const config = {
      durable_name: this.options.durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: this.options.filterSubject,
      ack_wait: nanos(this.options.ackWaitMs ?? 30_000),
      max_deliver: this.maxDeliver + 1,
      max_ack_pending: 20_000,
    };
    await ensureDurableConsumer(this.bus, stream, config);
    this.stopping = false;
    this.loop = this.run();
  }

  /** Stops pulling and waits for the messages in hand to be handled (graceful shutdown). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.messages?.stop();
    await this.loop;
    await Promise.all(this.chains.values());
  }

  private async run(): Promise<void> {
    let backoffMs = 250;
    while (!this.stopping) {
      try {
        const consumer = await this.bus.js.consumers.get(
          this.bus.topology.streams.events,
          this.options.durable,
        );
        this.messages = await consumer.consume({ max_messages: this.concurrency * 2 });
        if (this.stopping) this.messages.stop();
        for await (const msg of this.messages) {
          await this.dispatch(msg);
        }
        backoffMs = 250;
      } catch (error) {
        if (this.stopping) break;
        this.logger.error(
          { consumer: this.options.durable, err: describeError(error) },
          'consumer failed; restarting',
        );
        await new Promise((r) => setTimeout(r, backoffMs));
        backoffMs = Math.min(backoffMs * 2, 10_000);
      }
    }
  }

  private async dispatch(msg: JsMsg): Promise<void> {
    const type = eventTypeOf(msg.headers);
    if (type !== undefined && !this.options.accepts(type)) {
      msg.ack();
      return;
    }
    while (this.inFlight >= this.concurrency) {
      await new Promise<void>((resolve) => (this.slotFreed = resolve));
    }
    this.inFlight++;
    const key = msg.subject;
    const previous = this.chains.get(key) ?? Promise.resolve();
    const next = previous.then(() => this.process(msg));
    this.chains.set(key, next);
    void next.finally(() => {
      this.inFlight--;
      if (this.chains.get(key) === next) this.chains.delete(key);
      const freed = this.slotFreed;
      this.slotFreed = undefined;
      freed?.();
    });
  }

  private async process(msg: JsMsg): Promise<void> {
    let event: StoredEvent;
    try {
      event = decodeEvent(msg.data, {
        stream: msg.info.stream,
        subject: msg.subject,
        seq: msg.seq,
      });
    } catch (error) {
      await this.deadLetter(msg, error);
      return;
    }
    if (!this.options.accepts(event.type)) {
      msg.ack();
      return;
    }
    // Retries happen here, in the aggregate's chain, so a later event of the same aggregate never
    // overtakes one that is being retried. The message is kept in progress meanwhile; only if this
    // process dies does JetStream redeliver it (counted in deliveryCount).
    for (let attempt = msg.info.deliveryCount; ; attempt++) {
      try {
        await inSpan(
          `handle ${event.type}`,
          {
            kind: SpanKind.CONSUMER,
            attributes: {
              'acai.service': this.bus.name,
              'acai.consumer': this.options.durable,
              'acai.event.type': event.type,
              'acai.seq': msg.seq,
            },
            parent: extractTrace(msg.headers),
          },
          () => this.options.handle(event),
        );
        msg.ack();
        return;
      } catch (error) {
        if (isNonRetryable(error) || attempt >= this.maxDeliver) {
          await this.deadLetter(
            msg,
            isNonRetryable(error)
              ? error
              : new NonRetryableError(
                  'max_deliveries',
                  `gave up after ${attempt} attempts: ${describeError(error)}`,
                ),
          );
          return;
        }
        if (this.stopping) {
          // Shutting down: hand it back rather than wait out the backoff.
          msg.nak();
          return;
        }
        const delayMs = Math.min(100 * 2 ** (attempt - 1), 5_000);
        this.logger.warn(
          {
            consumer: this.options.durable,
            type: event.type,
            seq: msg.seq,
            attempt,
            err: describeError(error),
          },
          'handler failed; will retry',
        );
        msg.working();
        await new Promise((r) => setTimeout(r, delayMs));
        msg.working();
      }
    }
  }

  private async deadLetter(msg: JsMsg, error: unknown): Promise<void> {
    const reason = deadLetterReason(error);
    this.logger.warn(
      {
        consumer: this.options.durable,
        seq: msg.seq,
        subject: msg.subject,
        reason,
        err: describeError(error),
      },
      'message sent to dead letters',
    );
    try {
      await this.options.deadLetters.record({
        consumer: this.options.durable,
        stream: msg.info.stream,
        seq: msg.seq,
        subject: msg.subject,
        reason,
        error: describeError(error),
        payload: msg.data,
      });
      // No reason on the wire: nats-server 2.9 ignores a +TERM that carries one.
      msg.term();
    } catch (sinkError) {
      // Could not record it: leave it to be redelivered rather than lose it.
      this.logger.error(
        { consumer: this.options.durable, err: describeError(sinkError) },
        'dead-letter sink failed',
      );
      msg.nak(5_000);
    }
  }
}
