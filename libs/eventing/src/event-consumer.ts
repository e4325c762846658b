import { AckPolicy, DeliverPolicy, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { context, type Context } from '@opentelemetry/api';
import type { StoredEvent } from '@acai/contracts';
import { ensureDurableConsumer, type Bus } from './bus.js';
import { decodeEvent, eventTypeOf } from './codec.js';
import type { ClaimedLetter, DeadLetterSink, RedriveOutcome } from './dead-letters.js';
import { deadLetterReason, describeError, HandleLater, NonRetryableError } from './errors.js';
import { classifyFailure, isTransient } from './failures.js';
import { silentLogger, type EventingLogger } from './logger.js';
import type { ConsumerMonitor } from './monitor.js';
import {
  DEFAULT_RETRY_DELAYS,
  PULL_EXPIRES_MS,
  retryDelay,
  sleep,
  WaitingRoom,
  type RetryDelays,
} from './patience.js';
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
  /**
   * Attempts a message gets (failures that are not for want of a dependency) before it is
   * dead-lettered; a message delivered more than three times this often without being settled (the
   * service died while handling it each time) is dead-lettered before it is handled again.
   */
  readonly maxDeliver?: number;
  /**
   * How long JetStream waits before it hands an unsettled event to another process (10 s): what a
   * service that died mid-handler costs. Events in hand are kept in progress every third of it.
   */
  readonly ackWaitMs?: number;
  /** Waits between tries; tests shorten them. */
  readonly retryDelays?: RetryDelays;
}

/** How many deliveries, in multiples of `maxDeliver`, mark a message that kills its handler. */
export const REDELIVERIES_PER_ATTEMPT = 3;

type Outcome =
  | { readonly kind: 'handled' }
  /** Not due yet (see {@link HandleLater}): handed back to be delivered again after the delay. */
  | { readonly kind: 'later'; readonly delayMs: number }
  | { readonly kind: 'dead'; readonly error: unknown }
  | { readonly kind: 'stopped' };

/**
 * A durable pull consumer on the events stream. Events of one aggregate (one subject) are handled
 * in order; different aggregates in parallel.
 *
 * A handler's failure is classified ({@link classifyFailure}): a dependency that is down or slow, or
 * a lost race, is waited out with backoff for as long as it takes, and never counts as an attempt
 * (the consumer's `waiting` metric and a log line every half minute say so meanwhile); any other
 * retryable failure is an attempt, and after `maxDeliver` of them the message is poison; a
 * non-retryable one is poison at once. Poison is dead-lettered with its reason and the consumer
 * carries on; an operator can redrive it later ({@link EventConsumer.redrive}).
 *
 * Every message in hand (being handled, waiting for a dependency, or queued behind another event of
 * its aggregate) is kept in progress, so JetStream redelivers only what a dead process held. Its
 * consumer has no `max_deliver` (JetStream would drop a message silently past it): a message
 * delivered more than {@link REDELIVERIES_PER_ATTEMPT} × `maxDeliver` times is dead-lettered here.
 */
export class EventConsumer {
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private abort = new AbortController();
  private readonly chains = new Map<string, Promise<void>>();
  /** Messages delivered and not yet settled, by stream sequence: kept in progress. */
  private readonly inHand = new Map<number, JsMsg>();
  private heartbeat: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private readonly slotWaiters: (() => void)[] = [];
  private unregister: (() => void) | undefined;
  private readonly logger: EventingLogger;
  private readonly monitor: ConsumerMonitor;
  private readonly concurrency: number;
  private readonly maxDeliver: number;
  private readonly ackWaitMs: number;
  private readonly delays: RetryDelays;
  private readonly room = new WaitingRoom();

  constructor(
    private readonly bus: Bus,
    private readonly options: EventConsumerOptions,
  ) {
    this.logger = options.logger ?? silentLogger;
    this.monitor = options.deadLetters.monitor;
    this.concurrency = options.concurrency ?? 64;
    this.maxDeliver = options.maxDeliver ?? 8;
    this.ackWaitMs = options.ackWaitMs ?? 10_000;
    // A wait never outlasts the ack wait, whatever the caller asked: the message stays in progress.
    const delays = options.retryDelays ?? DEFAULT_RETRY_DELAYS;
    this.delays = { ...delays, maxMs: Math.min(delays.maxMs, Math.floor(this.ackWaitMs / 3)) };
  }

  async start(): Promise<void> {
    const stream = this.bus.topology.streams.events;
    const config = {
      durable_name: this.options.durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: this.options.filterSubject,
      ack_wait: nanos(this.ackWaitMs),
      // Unlimited: poison is told from an outage here, not by a count JetStream would enforce by
      // dropping the message.
      max_deliver: -1,
      max_ack_pending: 20_000,
    };
    // A consumer made by an earlier release takes today's ack wait too.
    await ensureDurableConsumer(this.bus, stream, config, ['max_deliver', 'ack_wait']);
    this.stopping = false;
    this.abort = new AbortController();
    this.heartbeat = setInterval(
      () => {
        for (const msg of this.inHand.values()) msg.working();
      },
      Math.max(100, Math.floor(this.ackWaitMs / 3)),
    );
    this.unregister = this.options.deadLetters.register(this.options.durable, {
      how: 'handle',
      handle: (letter) => this.redrive(letter),
    });
    this.loop = this.run();
  }

  /**
   * Stops pulling and waits for the messages in hand: each is handled, or handed back to JetStream
   * if it was waiting (graceful shutdown).
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    this.messages?.stop();
    await this.loop;
    while (this.chains.size > 0) await Promise.all(this.chains.values());
    clearInterval(this.heartbeat);
    this.unregister?.();
    this.unregister = undefined;
  }

  /**
   * Handles a dead letter of this consumer again, as if it were delivered now: in its aggregate's
   * order with the events arriving meanwhile, with the same waiting and attempts. What it comes to
   * is for the caller to record (see PostgresDeadLetters.redrive).
   */
  async redrive(letter: ClaimedLetter): Promise<RedriveOutcome> {
    if (this.stopping) return { kind: 'stopped' };
    await this.acquire();
    try {
      return await this.enqueue(letter.subject, async (): Promise<RedriveOutcome> => {
        if (this.stopping) return { kind: 'stopped' };
        let event: StoredEvent;
        try {
          event = decodeEvent(letter.payload, letter);
        } catch (error) {
          return failed(error);
        }
        // Its type is no longer handled here: nothing to do, as a delivery would be acknowledged.
        if (!this.options.accepts(event.type)) return { kind: 'handled' };
        const outcome = await this.handle(event, context.active());
        if (outcome.kind === 'later') {
          return {
            kind: 'failed',
            reason: 'not_due',
            error: `not due for another ${outcome.delayMs} ms: redrive it again then`,
          };
        }
        return outcome.kind === 'dead' ? failed(outcome.error) : outcome;
      });
    } finally {
      this.release();
    }
  }

  private async run(): Promise<void> {
    let backoffMs = 250;
    while (!this.stopping) {
      try {
        const consumer = await this.bus.js.consumers.get(
          this.bus.topology.streams.events,
          this.options.durable,
        );
        this.messages = await consumer.consume({
          max_messages: this.concurrency * 2,
          expires: PULL_EXPIRES_MS,
        });
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
        await sleep(backoffMs, this.abort.signal);
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
    // Delivered again while the first delivery is still in hand here (it waited in the client's
    // buffer past its ack wait): the one in hand settles the message for both.
    if (this.inHand.has(msg.seq)) return;
    this.inHand.set(msg.seq, msg);
    await this.acquire();
    void this.enqueue(msg.subject, () => this.process(msg)).finally(() => {
      this.inHand.delete(msg.seq);
      this.release();
    });
  }

  /** Runs `task` after everything queued for `key` (one aggregate), and returns what it returns. */
  private enqueue<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.chains.get(key) ?? Promise.resolve();
    const result = previous.then(task);
    const next = result.then(
      () => undefined,
      () => undefined,
    );
    this.chains.set(key, next);
    void next.finally(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
    return result;
  }

  private async acquire(): Promise<void> {
    while (this.inFlight >= this.concurrency) {
      await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    }
    this.inFlight++;
  }

  private release(): void {
    this.inFlight--;
    this.slotWaiters.shift()?.();
  }

  private async process(msg: JsMsg): Promise<void> {
    const type = eventTypeOf(msg.headers) ?? null;
    const deliveries = msg.info.deliveryCount;
    if (deliveries > REDELIVERIES_PER_ATTEMPT * this.maxDeliver) {
      await this.deadLetter(
        msg,
        new NonRetryableError(
          'max_redeliveries',
          `delivered ${deliveries} times and never settled: the service stopped (crashed or was restarted) while handling it each time`,
        ),
        type,
      );
      return;
    }
    let event: StoredEvent;
    try {
      event = decodeEvent(msg.data, {
        stream: msg.info.stream,
        subject: msg.subject,
        seq: msg.seq,
      });
    } catch (error) {
      await this.deadLetter(msg, error, type);
      return;
    }
    if (!this.options.accepts(event.type)) {
      msg.ack();
      return;
    }
    // Retries happen here, in the aggregate's chain, so a later event of the same aggregate never
    // overtakes one that is being retried. The message is kept in progress meanwhile; only if this
    // process dies does JetStream redeliver it (counted in deliveryCount).
    const outcome = await this.handle(event, extractTrace(msg.headers));
    switch (outcome.kind) {
      case 'handled':
        msg.ack();
        return;
      case 'later':
        msg.nak(outcome.delayMs);
        return;
      case 'dead':
        await this.deadLetter(msg, outcome.error, event.type);
        return;
      case 'stopped':
        // Shutting down: hand it back rather than wait out the outage.
        msg.nak();
        return;
      default: {
        const unhandled: never = outcome;
        throw new Error(`unhandled outcome ${JSON.stringify(unhandled)}`);
      }
    }
  }

  /** Calls the handler until it succeeds, the event turns out to be poison, or the consumer stops. */
  private async handle(event: StoredEvent, parent: Context): Promise<Outcome> {
    const consumer = this.options.durable;
    let attempts = 0;
    let tries = 0;
    let waiting = false;
    try {
      for (;;) {
        try {
          await inSpan(
            `handle ${event.type}`,
            {
              kind: SpanKind.CONSUMER,
              attributes: {
                'acai.service': this.bus.name,
                'acai.consumer': consumer,
                'acai.event.type': event.type,
                'acai.seq': event.position.seq,
              },
              parent,
            },
            () => this.options.handle(event),
          );
          this.monitor.handled?.(consumer, event.type);
          return { kind: 'handled' };
        } catch (error) {
          if (error instanceof HandleLater) return { kind: 'later', delayMs: error.delayMs };
          const kind = classifyFailure(error);
          const where = { consumer, type: event.type, seq: event.position.seq };
          let delayMs: number;
          if (kind === 'final') return { kind: 'dead', error };
          if (isTransient(kind)) {
            // An outage or a race: wait it out, however long, without counting it as an attempt.
            this.monitor.retried(consumer, kind);
            if (!waiting) {
              waiting = true;
              this.room.enter(Date.now());
              this.monitor.waiting(consumer, 1);
            }
            tries++;
            if (this.room.due(Date.now())) {
              this.logger.warn(
                {
                  ...where,
                  kind,
                  waiting: this.room.waiting,
                  waitingSeconds: this.room.seconds(Date.now()),
                  err: describeError(error),
                },
                kind === 'conflict'
                  ? 'handler lost a race; trying again (not counted as an attempt)'
                  : 'handler waits for a dependency; trying again until it answers (not counted as an attempt)',
              );
            }
            delayMs = retryDelay(tries, this.delays);
          } else {
            attempts++;
            if (attempts >= this.maxDeliver) {
              return {
                kind: 'dead',
                error: new NonRetryableError(
                  'max_deliveries',
                  `gave up after ${attempts} attempts: ${describeError(error)}`,
                  { cause: error },
                ),
              };
            }
            this.logger.warn(
              { ...where, attempt: attempts, err: describeError(error) },
              'handler failed; will retry',
            );
            delayMs = retryDelay(attempts, this.delays);
          }
          if (this.stopping) return { kind: 'stopped' };
          await sleep(delayMs, this.abort.signal);
          if (this.stopping) return { kind: 'stopped' };
        }
      }
    } finally {
      if (waiting) {
        this.monitor.waiting(consumer, -1);
        const seconds = this.room.seconds(Date.now());
        if (this.room.leave()) {
          this.logger.info(
            { consumer, waitedSeconds: seconds },
            'no message waits for a dependency any more',
          );
        }
      }
    }
  }

  private async deadLetter(msg: JsMsg, error: unknown, eventType: string | null): Promise<void> {
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
        eventType,
      });
      this.monitor.deadLettered(this.options.durable, reason);
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

function failed(error: unknown): RedriveOutcome {
  return { kind: 'failed', reason: deadLetterReason(error), error: describeError(error) };
}
