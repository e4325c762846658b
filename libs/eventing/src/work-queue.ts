import { AckPolicy, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { headers as newHeaders, nanos } from '@nats-io/nats-core';
import { parseOrThrow, subjects, WorkAssignmentSchema, type WorkAssignment } from '@acai/contracts';
import type { Context } from '@opentelemetry/api';
import { ensureDurableConsumer, type Bus } from './bus.js';
import { decodeJson, encodeJson } from './codec.js';
import { describeError } from './errors.js';
import { silentLogger, type EventingLogger } from './logger.js';
import { extractTrace, injectTrace } from './tracing.js';

/** Puts a job on its pool's work queue. The id makes a repeated dispatch of one attempt a no-op. */
export async function publishWork(bus: Bus, pool: string, work: WorkAssignment): Promise<void> {
  const h = newHeaders();
  injectTrace(h);
  await bus.js.publish(subjects.work(bus.topology, pool), encodeJson(work), {
    msgID: `${work.jobId}-${work.attempt}`,
    headers: h,
  });
}

/** A job in the hands of an executor: keep it in progress while it runs, then settle it. */
export interface WorkLease {
  readonly work: WorkAssignment;
  readonly deliveries: number;
  readonly trace: Context;
  /** Done (either way): removes the message from the queue. */
  complete(): Promise<void>;
  /** Give the work back to be run again, here or elsewhere, after `delayMs`. */
  release(delayMs?: number): void;
  /**
   * Let go of the work without settling it, for an attempt a newer one has replaced: the message
   * was delivered again to whoever runs that one, and JetStream takes an acknowledgement (or a
   * progress report) of any delivery as the message's, so this one's would settle theirs. The
   * heartbeat stops; the newer delivery's holder settles the message.
   */
  abandon(): void;
}

export interface WorkConsumerOptions {
  readonly pool: string;
  /** How many jobs this executor runs at once (see {@link WorkConsumer.resize}). */
  readonly slots: number;
  readonly handle: (lease: WorkLease) => Promise<void>;
  readonly logger?: EventingLogger;
  /** Without a heartbeat for this long, the work is handed to another executor. */
  readonly ackWaitMs?: number;
  readonly maxDeliver?: number;
}

/**
 * Pulls work for one pool, at most `slots` at a time, and keeps each message in progress with a
 * heartbeat while its handler runs. If this process dies the heartbeats stop and JetStream
 * redelivers the work after `ackWaitMs`.
 */
export class WorkConsumer {
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private readonly running = new Set<Promise<void>>();
  private readonly logger: EventingLogger;
  private readonly ackWaitMs: number;
  private slots: number;
  /** Wakes the pull loop when it waits for a free slot (a job ended, slots were added, stop). */
  private wake: (() => void) | undefined;

  constructor(
    private readonly bus: Bus,
    private readonly options: WorkConsumerOptions,
  ) {
    this.logger = options.logger ?? silentLogger;
    this.ackWaitMs = options.ackWaitMs ?? 30_000;
    this.slots = options.slots;
  }

  get busySlots(): number {
    return this.running.size;
  }

  /** How many jobs it may run at once now. */
  get capacity(): number {
    return this.slots;
  }

  /**
   * Changes how many jobs it runs at once, e.g. for a pool whose nodes come and go. Added slots
   * are pulled for at once; with fewer, the jobs in hand finish and no new ones are taken until
   * a slot is free. Zero pauses pulling.
   */
  resize(slots: number): void {
    if (!Number.isInteger(slots) || slots < 0) {
      throw new RangeError(`slots must be a whole number ≥ 0, not ${slots}`);
    }
    this.slots = slots;
    this.notify();
  }

  async start(): Promise<void> {
    const stream = this.bus.topology.streams.work;
    const durable = `executor-${this.options.pool}`;
    await ensureDurableConsumer(this.bus, stream, {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      filter_subject: subjects.work(this.bus.topology, this.options.pool),
      ack_wait: nanos(this.ackWaitMs),
      max_deliver: this.options.maxDeliver ?? 5,
      max_ack_pending: 100_000,
    });
    this.stopping = false;
    this.loop = this.run(durable);
  }

  /** Stops taking work; in-flight jobs are left to the handlers (see WorkLease.release). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.notify();
    this.messages?.stop();
    await this.loop;
  }

  /** Resolves when every job in hand has been settled. */
  async drained(): Promise<void> {
    await Promise.all(this.running);
  }

  private async run(durable: string): Promise<void> {
    let backoffMs = 250;
    while (!this.stopping) {
      try {
        const consumer = await this.bus.js.consumers.get(this.bus.topology.streams.work, durable);
        while (!this.stopping) {
          const free = this.slots - this.running.size;
          if (free <= 0) {
            // One waiter woken by whatever frees a slot, rather than a race over every job in
            // hand (which would add a callback to each of them per loop, with many slots).
            await new Promise<void>((resolve) => (this.wake = resolve));
            continue;
          }
          this.messages = await consumer.fetch({ max_messages: free, expires: 2_000 });
          for await (const msg of this.messages) this.take(msg);
        }
        backoffMs = 250;
      } catch (error) {
        if (this.stopping) break;
        this.logger.error(
          { pool: this.options.pool, err: describeError(error) },
          'work consumer failed; restarting',
        );
        await new Promise((r) => setTimeout(r, backoffMs));
        backoffMs = Math.min(backoffMs * 2, 10_000);
      }
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private take(msg: JsMsg): void {
    let work: WorkAssignment;
    try {
      work = parseOrThrow(WorkAssignmentSchema, decodeJson(msg.data), 'work assignment');
    } catch (error) {
      this.logger.error(
        { pool: this.options.pool, seq: msg.seq, err: describeError(error) },
        'dropping unreadable work',
      );
      msg.term();
      return;
    }
    const heartbeat = setInterval(
      () => msg.working(),
      Math.max(250, Math.floor(this.ackWaitMs / 3)),
    );
    let settled = false;
    const lease: WorkLease = {
      work,
      deliveries: msg.info.deliveryCount,
      trace: extractTrace(msg.headers),
      complete: async () => {
        if (settled) return;
        settled = true;
        clearInterval(heartbeat);
        await msg.ackAck();
      },
      release: (delayMs?: number) => {
        if (settled) return;
        settled = true;
        clearInterval(heartbeat);
        msg.nak(delayMs);
      },
      abandon: () => {
        settled = true;
        clearInterval(heartbeat);
      },
    };
    const task = this.options
      .handle(lease)
      .catch((error: unknown) => {
        this.logger.error(
          { jobId: work.jobId, err: describeError(error) },
          'work handler failed; handing the work back',
        );
        lease.release();
      })
      .finally(() => {
        clearInterval(heartbeat);
        this.running.delete(task);
        this.notify();
      });
    this.running.add(task);
  }
}
