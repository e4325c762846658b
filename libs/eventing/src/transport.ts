import {
  EventPattern,
  MessagePattern,
  Server,
  type CustomTransportStrategy,
} from '@nestjs/microservices';
import { isObservable, lastValueFrom } from 'rxjs';
import type { Subscription } from '@nats-io/nats-core';
import {
  Commands,
  subjects,
  type CommandName,
  type CommandPayload,
  type CommandResult,
  type EventType,
  type StoredEvent,
  type StoredEventOf,
} from '@acai/contracts';
import type { Bus } from './bus.js';
import { serveCommands, type CommandHandler } from './commands.js';
import type { DeadLetterSink } from './dead-letters.js';
import { EventConsumer } from './event-consumer.js';
import { silentLogger, type EventingLogger } from './logger.js';

export interface JetStreamTransportOptions {
  readonly bus: Bus;
  /** The service name: queue group of its commands and prefix of its durable consumers. */
  readonly service: string;
  readonly deadLetters: DeadLetterSink;
  readonly logger?: EventingLogger;
  /**
   * Called with every event of these aggregate types, in order per aggregate, before any handler:
   * how a service keeps its aggregate cache current (see AggregateRepository.observe).
   */
  readonly observers?: ReadonlyArray<{ aggregate: string; observe: (event: StoredEvent) => void }>;
  readonly concurrency?: number;
  /** How long an event in hand of a process that died waits to be delivered again (10 s). */
  readonly ackWaitMs?: number;
}

/**
 * A NestJS transport for acai's bus. `@EventPattern('job.succeeded')` handlers receive decoded
 * events from a durable JetStream consumer (one per aggregate type per service, shared by its
 * replicas); `@MessagePattern('scheduler.submit_run')` handlers answer commands over core NATS
 * request/reply in the service's queue group. Nest's own NATS transport is core NATS only.
 */
export class JetStreamTransport extends Server implements CustomTransportStrategy {
  private consumers: EventConsumer[] = [];
  private subscriptions: Subscription[] = [];
  private readonly log: EventingLogger;

  constructor(private readonly options: JetStreamTransportOptions) {
    super();
    this.log = options.logger ?? silentLogger;
  }

  listen(callback: (...optionalParams: unknown[]) => unknown): void {
    this.start().then(
      () => callback(),
      (error: unknown) => callback(error),
    );
  }

  private async start(): Promise<void> {
    const eventHandlers = new Map<string, (event: StoredEvent) => Promise<void>>();
    const commandHandlers = new Map<string, CommandHandler>();
    for (const [pattern, handler] of this.messageHandlers) {
      const run = async (payload: unknown) => {
        const result: unknown = await handler(payload);
        return isObservable(result) ? lastValueFrom(result, { defaultValue: undefined }) : result;
      };
      if (handler.isEventHandler) eventHandlers.set(pattern, async (e) => void (await run(e)));
      else commandHandlers.set(pattern, run);
    }

    const aggregates = new Set<string>(
      [...eventHandlers.keys()].map((type) => type.split('.')[0]!),
    );
    for (const o of this.options.observers ?? []) aggregates.add(o.aggregate);
    for (const aggregate of aggregates) {
      const observers = (this.options.observers ?? []).filter((o) => o.aggregate === aggregate);
      const consumer = new EventConsumer(this.options.bus, {
        durable: `${this.options.service}-${aggregate}`,
        filterSubject: subjects.aggregateType(this.options.bus.topology, aggregate),
        accepts: (type) => observers.length > 0 || eventHandlers.has(type),
        handle: async (event) => {
          for (const o of observers) o.observe(event);
          await eventHandlers.get(event.type)?.(event);
        },
        deadLetters: this.options.deadLetters,
        logger: this.log,
        ...(this.options.concurrency === undefined
          ? {}
          : { concurrency: this.options.concurrency }),
        ...(this.options.ackWaitMs === undefined ? {} : { ackWaitMs: this.options.ackWaitMs }),
      });
      await consumer.start();
      this.consumers.push(consumer);
    }
    this.subscriptions = serveCommands(
      this.options.bus,
      this.options.service,
      commandHandlers,
      this.log,
    );
  }

  async close(): Promise<void> {
    for (const s of this.subscriptions) s.unsubscribe();
    this.subscriptions = [];
    await Promise.all(this.consumers.map((c) => c.stop()));
    this.consumers = [];
  }

  on(): void {
    // Status events are not used: readiness is reported by /readyz.
  }

  unwrap<T>(): T {
    return this.options.bus.nc as T;
  }
}

/** A command handler's method, as `@OnCommand` checks it: the registry's request in, its result out. */
type CommandMethod<K extends CommandName> = (
  request: CommandPayload<K>,
) => Promise<CommandResult<K>> | CommandResult<K>;

/**
 * Binds a handler method to a command of the registry (`@OnCommand('submitRun')`): it answers
 * `scheduler.submit_run`, receives the validated request and must return the command's result.
 * The compiler checks both against the contracts; the transport refuses a command the registry
 * does not have.
 */
export function OnCommand<K extends CommandName>(name: K) {
  return <M extends CommandMethod<K>>(
    target: object,
    key: string | symbol,
    descriptor: TypedPropertyDescriptor<M>,
  ): void => {
    MessagePattern(Commands[name].pattern)(target, key, descriptor as PropertyDescriptor);
  };
}

/** An event handler's method, as `@OnEvent` checks it. */
type EventMethod<T extends EventType> = (event: StoredEventOf<T>) => Promise<void> | void;

/**
 * Binds a handler method to an event type of the catalogue (`@OnEvent('job.succeeded')`): it
 * receives each such event, decoded, from the service's durable consumer of that aggregate.
 */
export function OnEvent<T extends EventType>(type: T) {
  return <M extends EventMethod<T>>(
    target: object,
    key: string | symbol,
    descriptor: TypedPropertyDescriptor<M>,
  ): void => {
    EventPattern(type)(target, key, descriptor as PropertyDescriptor);
  };
}
