import { randomUUID } from 'node:crypto';
import {
  assertWriter,
  type CancelJobControl,
  type RescaleJobControl,
  type CommandName,
  type CommandPayload,
  type CommandRequest,
  type CommandResult,
  type EventType,
  type NewEvent,
  type StoredEvent,
  type StoredEventOf,
  type WorkAssignment,
  Commands,
} from '@acai/contracts';
import { WrongExpectedVersionError } from './errors.js';
import type { AggregateRef, AppendOptions, EventLog } from './event-store.js';
import type { CommandSender, JobControl, WorkQueue } from './ports.js';

/**
 * In-memory stand-ins for the ports handlers get (`ports.ts`), for unit specs that fake all I/O:
 * the same optimistic concurrency, writers check and envelopes as the real ones, with what
 * happened kept for assertions. Imported as `@acai/eventing/testing`; they live beside the ports
 * (not in @acai/testkit, whose helpers this library's own tests use) so no project depends on
 * itself.
 */

/** The event log in memory: one sequence for all aggregates, as a JetStream stream has. */
export class InMemoryEventLog implements EventLog {
  private readonly stored: StoredEvent[] = [];
  private readonly lastBySubject = new Map<string, number>();
  private readonly ids = new Set<string>();

  /** @param writer the service whose handlers append here; other writers are refused, as live. */
  constructor(private readonly writer?: string) {}

  private checking = true;

  subjectOf(ref: AggregateRef): string {
    return `test.evt.${ref.project}.${ref.aggregate}.${ref.id}`;
  }

  async append(
    ref: AggregateRef,
    events: readonly NewEvent[],
    options: AppendOptions,
  ): Promise<StoredEvent[]> {
    if (this.writer !== undefined && this.checking) {
      for (const event of events) assertWriter(this.writer, event.type);
    }
    const subject = this.subjectOf(ref);
    const current = this.lastBySubject.get(subject) ?? 0;
    if (options.expectedVersion !== 'any' && options.expectedVersion !== current) {
      throw new WrongExpectedVersionError(subject, options.expectedVersion);
    }
    const occurredAt = (options.now ?? new Date()).toISOString();
    const out: StoredEvent[] = [];
    for (const [i, event] of events.entries()) {
      const id = options.eventIds?.[i] ?? randomUUID();
      // A retried append with the same id is stored once, as JetStream deduplicates it.
      if (this.ids.has(id)) continue;
      this.ids.add(id);
      const seq = this.stored.length + 1;
      const storedEvent = {
        id,
        type: event.type,
        version: 1,
        project: ref.project,
        aggregate: ref.aggregate,
        aggregateId: ref.id,
        occurredAt,
        causationId: options.causationId ?? null,
        correlationId: options.correlationId ?? null,
        data: event.data,
        position: { stream: 'TEST_EVENTS', subject, seq },
      } as StoredEvent;
      this.stored.push(storedEvent);
      this.lastBySubject.set(subject, seq);
      out.push(storedEvent);
    }
    return out;
  }

  async read(ref: AggregateRef, after = 0): Promise<{ events: StoredEvent[]; version: number }> {
    const subject = this.subjectOf(ref);
    const events = this.stored.filter(
      (e) => e.position.subject === subject && e.position.seq > after,
    );
    return { events, version: this.lastBySubject.get(subject) ?? after };
  }

  /** Every event stored, in order. */
  all(): readonly StoredEvent[] {
    return this.stored;
  }

  /** Events of one type, in order. */
  ofType<T extends EventType>(type: T): StoredEventOf<T>[] {
    return this.stored.filter((e): e is StoredEventOf<T> => e.type === type);
  }

  /** Types of the events stored after position `afterSeq`, in order (a compact view for asserts). */
  typesSince(afterSeq = 0): string[] {
    return this.stored.filter((e) => e.position.seq > afterSeq).map((e) => e.type);
  }

  /** Sequence of the last event stored (0 when none). */
  get lastSeq(): number {
    return this.stored.length;
  }

  /** Stores events written by someone else (another service), bypassing the writers check. */
  async seed(ref: AggregateRef, events: readonly NewEvent[], correlationId: string | null = null) {
    this.checking = false;
    try {
      return await this.append(ref, events, { expectedVersion: 'any', correlationId });
    } finally {
      this.checking = true;
    }
  }
}

/** A work queue that keeps what was published. */
export class RecordingWorkQueue implements WorkQueue {
  readonly published: { pool: string; work: WorkAssignment }[] = [];

  async publish(pool: string, work: WorkAssignment): Promise<void> {
    this.published.push({ pool, work });
  }
}

/** Job control that keeps cancel requests and hands them to whoever listens. */
export class RecordingJobControl implements JobControl {
  readonly cancelled: CancelJobControl[] = [];
  private readonly listeners = new Set<(control: CancelJobControl) => void>();

  cancel(control: CancelJobControl): void {
    this.cancelled.push(control);
    for (const listener of this.listeners) listener(control);
  }

  onCancel(handler: (control: CancelJobControl) => void): { stop(): void } {
    this.listeners.add(handler);
    return { stop: () => this.listeners.delete(handler) };
  }

  readonly rescaled: RescaleJobControl[] = [];
  private readonly rescaleListeners = new Set<(control: RescaleJobControl) => void>();

  rescale(control: RescaleJobControl): void {
    this.rescaled.push(control);
    for (const listener of this.rescaleListeners) listener(control);
  }

  onRescale(handler: (control: RescaleJobControl) => void): { stop(): void } {
    this.rescaleListeners.add(handler);
    return { stop: () => this.rescaleListeners.delete(handler) };
  }
}

type Answer<K extends CommandName> = (
  request: CommandPayload<K>,
) => Promise<CommandResult<K>> | CommandResult<K>;

/**
 * Another service, as a handler under test sees it: answers the commands a test gives answers
 * for (validating each request against the registry, as the real transport does), and refuses
 * the others loudly.
 */
export class FakeCommands implements CommandSender {
  readonly sent: { name: CommandName; request: unknown }[] = [];
  private readonly answers = new Map<CommandName, (request: unknown) => unknown>();

  on<K extends CommandName>(name: K, answer: Answer<K>): this {
    this.answers.set(name, (request) => answer(request as CommandPayload<K>));
    return this;
  }

  async send<K extends CommandName>(
    name: K,
    request: CommandRequest<K>,
  ): Promise<CommandResult<K>> {
    this.sent.push({ name, request });
    const answer = this.answers.get(name);
    if (answer === undefined) throw new Error(`FakeCommands: no answer for '${name}' in this test`);
    const payload = Commands[name].request.parse(request);
    return (await answer(payload)) as CommandResult<K>;
  }
}
