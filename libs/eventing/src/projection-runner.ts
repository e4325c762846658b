import { DeliverPolicy, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import type { DataSource, EntityManager } from 'typeorm';
import {
  isProblem,
  RunProblems,
  subjects,
  type Projection,
  type ReplayStatus,
  type StoredEvent,
} from '@acai/contracts';
import type { Bus } from './bus.js';
import { decodeEvent, eventTypeOf } from './codec.js';
import type { DeadLetterSink } from './dead-letters.js';
import { deadLetterReason, describeError, isMissing, NonRetryableError } from './errors.js';
import { classifyFailure, isTransient } from './failures.js';
import { silentLogger, type EventingLogger } from './logger.js';
import {
  DEFAULT_RETRY_DELAYS,
  PULL_EXPIRES_MS,
  retryDelay,
  sleep,
  WaitingRoom,
  type RetryDelays,
} from './patience.js';
import { queryPrepared } from './prepared.js';
import { Replays, SHADOW_SUFFIX, type ShadowBuild } from './replays.js';
import { ProjectionCheckpointEntity, ProjectionDocumentEntity } from './storage.entities.js';
import { extractTrace, inSpan, SpanKind } from './tracing.js';

/**
 * A read model kept in tables of its own (for queries a document store cannot index, such as
 * search). The runner calls `apply` with each batch of new events inside its transaction, together
 * with the checkpoint, so each event is applied exactly once.
 */
export interface SqlProjection {
  readonly name: string;
  apply(manager: EntityManager, events: readonly StoredEvent[]): Promise<void>;
  /** Deletes everything it wrote, before a replay. */
  reset(manager: EntityManager): Promise<void>;
  /** Rows it holds, reported after a replay. */
  count(manager: EntityManager): Promise<number>;
  /**
   * The same projection writing to tables of its own (named `<name>~replay`), for a replay built
   * beside the live one; `promote` puts its rows in the live tables' place. Without it, a replay of
   * this projection empties the live tables and rebuilds them in place.
   */
  replica?(): SqlProjection & { promote(manager: EntityManager): Promise<void> };
  /**
   * Called after each transaction that moved this projection's checkpoint has committed (never for
   * one rolled back): a copy of the read model kept in memory follows the table with it. `after` is
   * the checkpoint the transaction found (events up to it were applied before, possibly by another
   * process), `through` the one it left, `events` those it applied in between (maybe none).
   */
  committed?(batch: CommittedBatch): void;
}

/** What a transaction applied to a SQL projection, once it has committed. */
export interface CommittedBatch {
  readonly after: number;
  readonly through: number;
  readonly events: readonly StoredEvent[];
}

function isSql<Doc>(p: Projection<Doc> | SqlProjection): p is SqlProjection {
  return 'apply' in p;
}

export interface ProjectionRunnerOptions {
  readonly batchSize?: number;
  readonly logger?: EventingLogger;
  /** Events to read; all domain events by default. */
  readonly filterSubject?: string;
  /** A replay's build (it takes no replays of its own). */
  readonly forReplay?: boolean;
  /** Seconds without a word from a replay's builder before another process takes it over (15). */
  readonly replayStaleSeconds?: number;
  /** Events per transaction of a replay's build (4,000): fewer, bigger transactions are faster. */
  readonly replayBatchSize?: number;
  /**
   * Event types the projections read (by the type header, before decoding); the others are passed
   * over without a transaction. Every type by default.
   */
  readonly accepts?: (type: string) => boolean;
  /**
   * Tries an event gets when applying it fails for a reason other than a dependency (8 by default):
   * then it is dead-lettered for the projection that failed, and the others go on.
   */
  readonly maxDeliver?: number;
  /** Waits between tries; tests shorten them. */
  readonly retryDelays?: RetryDelays;
  /**
   * Called after each transaction that applied events the projections read (not after batches
   * passed over), with the last stream sequence it covered and the types of the events it read: a
   * reader of the model may look again.
   */
  readonly onApplied?: (lastSeq: number, types: ReadonlySet<string>) => void;
  /**
   * The shortest time between the starts of two transactions while events keep coming (0: none).
   * An event after a quiet spell is applied at once; under load the events that arrive meanwhile
   * go in one transaction instead of a few each. For a read model no one waits on within
   * milliseconds: each transaction costs a handful of round trips and a commit, whatever its size.
   */
  readonly minBatchIntervalMs?: number;
  /**
   * How many events a projection may be behind the runner's most advanced one (a projection new in
   * this release starts at 0) and still be applied by the runner's consumer from where it is (4,000).
   * One further behind catches up beside the others, with a consumer of its own, and joins them
   * once it has reached them: the others' read models do not wait for it to read the whole log.
   */
  readonly catchUpLag?: number;
}

/** A batch that could not be applied: which events, which projections failed, and why. */
class BatchFailure extends Error {
  override readonly name = 'BatchFailure';
  constructor(
    readonly firstSeq: number,
    readonly size: number,
    /** The projections to blame: the one whose `apply` threw, or every one with the events pending. */
    readonly blame: readonly string[],
    override readonly cause: unknown,
  ) {
    super(describeError(cause), { cause });
  }
}

/** A SQL projection's `apply` threw. */
class ProjectionFailure extends Error {
  override readonly name = 'ProjectionFailure';
  constructor(
    readonly projection: string,
    override readonly cause: unknown,
  ) {
    super(describeError(cause), { cause });
  }
}

/** The documents a batch changes: written with its checkpoints, in one statement. */
interface DocumentWrites {
  readonly upsert: {
    readonly projections: string[];
    readonly keys: string[];
    readonly projects: (string | null)[];
    readonly docs: string[];
    readonly seqs: number[];
  };
  readonly deletes: { readonly projections: string[]; readonly keys: string[] };
}

/** A letter recorded in a batch's transaction, logged and counted once it commits. */
interface Recorded {
  readonly projection: string;
  readonly seq: number;
  readonly subject: string;
  readonly reason: string;
  readonly error: string;
}

/**
 * Waits (at most `timeoutMs`) until `projections` have applied every event up to `seq`; whether
 * they did. The wait itself stays registered until they do (it is only no longer awaited).
 */
export async function appliedWithin(
  projections: Pick<ProjectionControl, 'waitFor'>,
  seq: number,
  timeoutMs: number,
): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const applied = await Promise.race([projections.waitFor(seq).then(() => true), timedOut]);
  clearTimeout(timer);
  return applied;
}

/**
 * What a handler may ask of its service's projections: to wait until they have applied what is in
 * the log (read-your-writes), to rebuild one. The {@link ProjectionRunner} is the real one.
 */
export abstract class ProjectionControl {
  /** The projections, by name. */
  abstract readonly names: string[];
  /** Waits (at most `timeoutMs`) until every event in the log as of now is applied; whether it was. */
  abstract catchUp(timeoutMs: number): Promise<boolean>;
  /** Resolves once every event up to `seq` has been applied. */
  abstract waitFor(seq: number): Promise<void>;
  /** Rebuilds a projection's read model from the first event; resolves once it is in place. */
  abstract replay(name?: string): Promise<ReplayResult>;
  /** Starts rebuilding one beside the live model; answers at once (`REPLAY_RUNNING` if one runs). */
  abstract beginReplay(name?: string): Promise<ReplayStatus>;
  /** The latest replay of a projection, or null. */
  abstract replayStatus(name: string): Promise<ReplayStatus | null>;
  /** How far a projection has applied the log. */
  abstract checkpoint(name: string): Promise<number>;
}

/** What a replay rebuilt: up to which event of the log, and how many documents (or rows). */
export interface ReplayResult {
  readonly projection: string;
  readonly lastSeq: number;
  readonly documents: number;
}

/** A projection catching up beside the others, and the runner doing it. */
interface CatchUp<Doc> {
  readonly runner: ProjectionRunner<Doc>;
}

/** Events per transaction of a replay's build. */
const REPLAY_BATCH_SIZE = 4_000;

/**
 * Keeps one or more projections' documents in Postgres in step with the log. Reads with an
 * ordered consumer from the lowest checkpoint onwards; each batch of events is decoded once and
 * applied to every projection in one transaction that also moves their checkpoints, with the
 * checkpoint rows locked and events at or below a projection's checkpoint skipped for it, so a
 * redelivery, a restart mid-batch or a second replica never applies an event twice. Each
 * projection keeps its own checkpoint, so one can be replayed alone.
 *
 * When a batch fails, the failure is classified as an event consumer's is: Postgres, NATS or a
 * store being away (or a lost race) is waited out with backoff for as long as it takes, never
 * counted (the `waiting` metric and a log line every half minute say so). Any other failure is
 * an attempt: the batch is applied again one event per transaction to find the event, which gets
 * `maxDeliver` tries; then it is dead-lettered for the projection that failed (all of them when
 * the failure was not in one projection's code), whose checkpoint passes it, and the others apply
 * it. An event a document projection's `evolve` throws on, or that cannot be decoded, is
 * dead-lettered at once: a pure fold fails the same way every time. Redriving such a letter
 * replays its projection from the log (see {@link Redriver}).
 */
export class ProjectionRunner<Doc = unknown> implements ProjectionControl {
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private appliedSeq = 0;
  private readonly waiters = new Set<{ seq: number; resolve: () => void }>();
  /** The rebuild running or last run, and per projection the one asked for after it. */
  private replaying: Promise<unknown> = Promise.resolve();
  private readonly nextReplays = new Map<string, Promise<ReplayResult>>();
  private readonly batchSize: number;
  private readonly minBatchIntervalMs: number;
  /** When the last transaction started (ms since the epoch). */
  private lastBatchAt = 0;
  private readonly maxDeliver: number;
  private readonly delays: RetryDelays;
  private readonly logger: EventingLogger;
  private abort = new AbortController();
  private registered = false;
  private readonly room = new WaitingRoom();
  private waiting = false;
  /** Tries since it started waiting for a dependency. */
  private waitingTries = 0;
  /** Events still to apply one per transaction, to find the one a failed batch failed on. */
  private isolate = 0;
  /** The event that failed alone, and how often. */
  private stuck: { seq: number; failures: number } | undefined;
  /** Events to dead-letter for these projections (with the error) instead of applying them. */
  private readonly skips = new Map<number, Map<string, unknown>>();
  private readonly tables: { checkpoints: string; documents: string; replays: string };
  private readonly replays: Replays | undefined;
  /** Replays asked for in this process, shared by everyone who asks while one is on its way. */
  private readonly replayCalls = new Map<string, Promise<ReplayResult>>();
  /** The projections this runner's consumer applies: all but those catching up. */
  private readonly active = new Set<string>();
  /** Projections catching up beside the others, each by a runner of its own, until they join. */
  private readonly catchingUp = new Map<string, CatchUp<Doc>>();
  readonly projections: readonly Projection<Doc>[];
  readonly sqlProjections: readonly SqlProjection[];

  constructor(
    private readonly bus: Bus,
    private readonly dataSource: DataSource,
    projections: Projection<Doc> | SqlProjection | readonly (Projection<Doc> | SqlProjection)[],
    private readonly deadLetters: DeadLetterSink,
    private readonly options: ProjectionRunnerOptions = {},
  ) {
    const all: readonly (Projection<Doc> | SqlProjection)[] = Array.isArray(projections)
      ? projections
      : [projections as Projection<Doc> | SqlProjection];
    this.projections = all.filter((p): p is Projection<Doc> => !isSql(p));
    this.sqlProjections = all.filter(isSql);
    if (all.length === 0) throw new Error('a projection runner needs a projection');
    this.batchSize = options.batchSize ?? 500;
    this.minBatchIntervalMs = options.forReplay === true ? 0 : (options.minBatchIntervalMs ?? 0);
    this.maxDeliver = options.maxDeliver ?? 8;
    this.delays = options.retryDelays ?? DEFAULT_RETRY_DELAYS;
    this.logger = options.logger ?? silentLogger;
    const schema = (dataSource.options as { schema?: string }).schema ?? 'public';
    const quoted = `"${schema.replace(/"/g, '""')}"`;
    this.tables = {
      checkpoints: `${quoted}.projection_checkpoints`,
      documents: `${quoted}.projection_documents`,
      replays: `${quoted}.projection_replays`,
    };
    this.replays = options.forReplay
      ? undefined
      : new Replays({
          dataSource,
          tables: this.tables,
          names: this.names,
          logger: this.logger,
          lastRelevantSeq: () => this.lastRelevantSeq(),
          shadow: (name) => this.shadow(name),
          ...(options.replayStaleSeconds === undefined
            ? {}
            : { staleSeconds: options.replayStaleSeconds }),
        });
  }

  /** The projections' names joined, e.g. `runs+jobs+job-history`. */
  get name(): string {
    return this.names.join('+');
  }

  get names(): string[] {
    return [...this.projections.map((p) => p.name), ...this.sqlProjections.map((p) => p.name)];
  }

  /** Last stream sequence applied (or skipped as irrelevant) by this runner. */
  get position(): number {
    return this.appliedSeq;
  }

  async start(): Promise<void> {
    this.stopping = false;
    this.abort = new AbortController();
    this.register();
    await this.dataSource.query(
      `INSERT INTO ${this.tables.checkpoints} (projection, last_seq, updated_at)
       SELECT unnest($1::text[]), 0, now() ON CONFLICT (projection) DO NOTHING`,
      [this.names],
    );
    await this.startCatchingUp();
    this.loop = this.run();
    this.replays?.start();
  }

  async stop(): Promise<void> {
    await this.replays?.stop();
    await this.stopConsumer();
    const laggards = [...this.catchingUp.values()];
    this.catchingUp.clear();
    await Promise.all(laggards.map((c) => c.runner.stop()));
  }

  /**
   * Projections far behind the most advanced one (new in this release, say) catch up beside the
   * others, by runners of their own, instead of holding the others' consumer back at their
   * checkpoint: with a long log, the others would otherwise show nothing new until the newcomer had
   * read all of it.
   */
  private async startCatchingUp(): Promise<void> {
    for (const name of this.names) this.active.add(name);
    if (this.options.forReplay === true || this.names.length < 2) return;
    const rows = await this.dataSource.query<{ projection: string; last_seq: string }[]>(
      `SELECT projection, last_seq FROM ${this.tables.checkpoints} WHERE projection = ANY($1::text[])`,
      [this.names],
    );
    const seqs = new Map(rows.map((r) => [r.projection, Number(r.last_seq)]));
    const ahead = Math.max(...this.names.map((n) => seqs.get(n) ?? 0));
    const lag = this.options.catchUpLag ?? REPLAY_BATCH_SIZE;
    for (const name of this.names) {
      const at = seqs.get(name) ?? 0;
      if (ahead - at <= lag) continue;
      const projection =
        this.sqlProjections.find((p) => p.name === name) ??
        this.projections.find((p) => p.name === name)!;
      const runner = new ProjectionRunner<Doc>(
        this.bus,
        this.dataSource,
        projection,
        this.deadLetters,
        {
          ...this.options,
          batchSize: this.options.replayBatchSize ?? Math.max(this.batchSize, REPLAY_BATCH_SIZE),
          forReplay: true,
        },
      );
      this.active.delete(name);
      this.catchingUp.set(name, { runner });
      this.logger.info(
        { projection: name, checkpoint: at, others: ahead },
        'projection is behind the others: it catches up beside them, then joins them',
      );
      await runner.start();
    }
  }

  /**
   * Lets the projections that have caught up join the consumer: each has applied every event this
   * runner has, so from the next batch on the consumer applies what comes after (an event both
   * apply meanwhile is applied once: the checkpoint rows are locked and passed events skipped).
   */
  private joinCaughtUp(): void {
    for (const [name, { runner }] of this.catchingUp) {
      if (runner.position < this.appliedSeq) continue;
      this.catchingUp.delete(name);
      this.active.add(name);
      this.logger.info(
        { projection: name, seq: runner.position },
        'projection caught up with the others and joined them',
      );
      void runner
        .stop()
        .catch((error: unknown) =>
          this.logger.warn(
            { projection: name, err: describeError(error) },
            'the runner that caught the projection up did not stop cleanly',
          ),
        );
    }
  }

  /** The names of the projections this runner's consumer applies now. */
  private get activeNames(): string[] {
    return this.names.filter((n) => this.active.has(n));
  }

  private async stopConsumer(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    this.messages?.stop();
    await this.loop;
    this.loop = undefined;
    this.stopWaiting(false);
  }

  /**
   * Its projections take their dead letters back by replaying (one event cannot be folded in again
   * out of order); letters of the runner as a whole (an event none could decode, as earlier
   * releases recorded it) replay them all.
   */
  private register(): void {
    // A replay's build records its letters under the live projection's name (see deadLetter).
    if (this.registered || this.options.forReplay === true) return;
    this.registered = true;
    for (const name of this.names) {
      this.deadLetters.register(`projection:${name}`, {
        how: 'replay',
        replay: () => this.replayAfterAny(name),
      });
    }
    if (this.names.length > 1) {
      this.deadLetters.register(`projection:${this.name}`, {
        how: 'replay',
        replay: async () => {
          for (const name of this.names) await this.replayAfterAny(name);
        },
      });
    }
  }

  /**
   * A replay for redriven letters. One that runs already (here or in another replica) may have
   * passed their events before they were fixed: it is waited for, and then another one is made.
   */
  private async replayAfterAny(name: string): Promise<void> {
    for (;;) {
      try {
        await this.replay(name);
        return;
      } catch (error) {
        if (!isProblem(error, RunProblems.REPLAY_RUNNING)) throw error;
      }
      while ((await this.replayStatus(name))?.status === 'running') {
        if (this.stopping)
          throw new Error(`the runner of '${name}' stopped before it could replay`);
        await sleep(2_000, this.abort.signal);
      }
    }
  }

  /** Resolves once every event up to `seq` has been applied. */
  waitFor(seq: number): Promise<void> {
    if (this.appliedSeq >= seq) return Promise.resolve();
    return new Promise((resolve) => this.waiters.add({ seq, resolve }));
  }

  /**
   * Resolves once every event of this runner's filter up to `seq` has been applied, when the event
   * at `seq` may be outside the filter (a run's event, for a runner of job events only): `waitFor`
   * would wait for an event of its own after `seq`, which may never come. The newest event of the
   * filter as of now is looked up (one direct get), and the wait ends at it or at `seq`, whichever
   * comes first; `seq` must already be in the log.
   */
  async waitForLog(seq: number): Promise<void> {
    if (this.appliedSeq >= seq) return;
    const newest = await this.lastRelevantSeq();
    await this.waitFor(Math.min(newest, seq));
  }

  /**
   * Waits (at most `timeoutMs`) until this projection has applied every event in the log as of
   * now: read-your-writes for a client that just wrote and reads back. Returns whether it caught up.
   */
  async catchUp(timeoutMs: number): Promise<boolean> {
    const target = await this.lastRelevantSeq();
    if (this.appliedSeq >= target) return true;
    return appliedWithin(this, target, timeoutMs);
  }

  /**
   * Starts a replay of a projection (the only one, or the one named): its read model is built
   * again from the first event beside the live one, which readers keep seeing, and swapped in once
   * it has caught up ({@link Replays}). Answers at once; `REPLAY_RUNNING` while one runs.
   */
  async beginReplay(name?: string): Promise<ReplayStatus> {
    const projection = this.replayable(name);
    if (this.replays === undefined || !this.shadowable(projection)) {
      throw new Error(`'${projection}' cannot be replayed beside its live model`);
    }
    return this.replays.begin(projection);
  }

  /** The latest replay of a projection, or null. */
  async replayStatus(name: string): Promise<ReplayStatus | null> {
    return (await this.replays?.status(this.replayable(name))) ?? null;
  }

  /** How far a projection has applied the log. */
  async checkpoint(name: string): Promise<number> {
    const rows = await this.dataSource.query<{ last_seq: string }[]>(
      `SELECT last_seq FROM ${this.tables.checkpoints} WHERE projection = $1`,
      [this.replayable(name)],
    );
    return Number(rows[0]?.last_seq ?? 0);
  }

  /**
   * Replays a projection (the only one, or the one named) and resolves when the rebuilt model is
   * in place. Callers in this process asking while one is on its way share it. A SQL projection
   * with no replica is emptied and rebuilt in place (the runner's consumer stopped meanwhile).
   */
  async replay(name?: string): Promise<ReplayResult> {
    const projection = this.replayable(name);
    let call = this.replayCalls.get(projection);
    if (call === undefined) {
      call = this.replayOnce(projection).finally(() => this.replayCalls.delete(projection));
      this.replayCalls.set(projection, call);
    }
    return call;
  }

  private async replayOnce(projection: string): Promise<ReplayResult> {
    if (this.replays === undefined || !this.shadowable(projection)) {
      const next = this.replaying.then(() => this.rebuildInPlace(projection));
      this.replaying = next.catch(() => undefined);
      return next;
    }
    await this.replays.begin(projection);
    const done = await this.replays.whenDone(projection);
    if (done === undefined || done.status !== 'succeeded') {
      throw new Error(`replay of '${projection}' did not succeed: ${done?.error ?? 'stopped'}`);
    }
    return { projection, lastSeq: done.done, documents: done.documents ?? 0 };
  }

  private replayable(name?: string): string {
    const projection = name ?? (this.names.length === 1 ? this.names[0]! : undefined);
    if (projection === undefined || !this.names.includes(projection)) {
      throw new Error(`replay needs one of: ${this.names.join(', ')}`);
    }
    return projection;
  }

  private shadowable(projection: string): boolean {
    const sql = this.sqlProjections.find((p) => p.name === projection);
    return sql === undefined || sql.replica !== undefined;
  }

  /** A build of `name` beside the live model, by a runner of its own. */
  private shadow(name: string): ShadowBuild {
    const shadowName = `${name}${SHADOW_SUFFIX}`;
    const sql = this.sqlProjections.find((p) => p.name === name);
    const replica = sql?.replica?.();
    const document = this.projections.find((p) => p.name === name);
    const built: Projection<Doc> | SqlProjection =
      replica ??
      ({
        name: shadowName,
        keys: (event) => document!.keys(event),
        evolve: (doc, event, key) => document!.evolve(doc, event, key),
      } satisfies Projection<Doc>);
    const runner = new ProjectionRunner<Doc>(this.bus, this.dataSource, built, this.deadLetters, {
      ...this.options,
      // Catching up from the first event: big batches, fewer transactions (the live runner's are
      // small to keep its latency low).
      batchSize: this.options.replayBatchSize ?? Math.max(this.batchSize, REPLAY_BATCH_SIZE),
      forReplay: true,
    });
    const { checkpoints, documents } = this.tables;
    return {
      start: () => runner.start(),
      stop: () => runner.stop(),
      get position() {
        return runner.position;
      },
      waitFor: (seq) => runner.waitFor(seq),
      clear: async (m) => {
        if (replica !== undefined) await replica.reset(m);
        else await m.query(`DELETE FROM ${documents} WHERE projection = $1`, [shadowName]);
        await m.query(`DELETE FROM ${checkpoints} WHERE projection = $1`, [shadowName]);
      },
      promote: async (m) => {
        if (replica !== undefined) {
          await replica.promote(m);
          return;
        }
        await m.query(`DELETE FROM ${documents} WHERE projection = $1`, [name]);
        await m.query(`UPDATE ${documents} SET projection = $1 WHERE projection = $2`, [
          name,
          shadowName,
        ]);
      },
      count: async (m) => {
        if (sql !== undefined) return sql.count(m);
        const rows = await m.query<{ n: string }[]>(
          `SELECT count(*) AS n FROM ${documents} WHERE projection = $1`,
          [name],
        );
        return Number(rows[0]?.n ?? 0);
      },
    };
  }

  /** The replay of a SQL projection with no replica: emptied, then rebuilt in place. */
  private async rebuildInPlace(projection: string): Promise<ReplayResult> {
    if (this.catchingUp.has(projection)) {
      throw new Error(
        `'${projection}' is still catching up with the other projections; replay it once it has joined them`,
      );
    }
    await this.stopConsumer();
    await this.dataSource.transaction(async (m) => {
      const sql = this.sqlProjections.find((p) => p.name === projection);
      if (sql !== undefined) await sql.reset(m);
      else await m.delete(ProjectionDocumentEntity, { projection });
      await m.update(
        ProjectionCheckpointEntity,
        { projection },
        { lastSeq: 0, updatedAt: new Date() },
      );
    });
    this.appliedSeq = 0;
    const target = await this.lastRelevantSeq();
    this.stopping = false;
    this.abort = new AbortController();
    this.loop = this.run();
    await this.waitFor(target);
    const sql = this.sqlProjections.find((p) => p.name === projection);
    const documents =
      sql !== undefined
        ? await sql.count(this.dataSource.manager)
        : await this.dataSource.getRepository(ProjectionDocumentEntity).countBy({ projection });
    return { projection, lastSeq: target, documents };
  }

  /** Sequence of the newest event this runner reads (its filter), 0 when there is none. */
  private async lastRelevantSeq(): Promise<number> {
    const filter = this.filter();
    try {
      const last = await this.bus.jsm.direct.getMessage(this.bus.topology.streams.events, {
        last_by_subj: filter,
      });
      return last?.seq ?? 0;
    } catch (error) {
      if (isMissing(error)) return 0;
      throw error;
    }
  }

  private filter(): string {
    return this.options.filterSubject ?? subjects.allEvents(this.bus.topology);
  }

  private async run(): Promise<void> {
    let backoffMs = 250;
    while (!this.stopping) {
      try {
        const checkpoint = await this.readCheckpoint();
        this.advance(checkpoint);
        const consumer = await this.bus.js.consumers.get(this.bus.topology.streams.events, {
          filter_subjects: this.filter(),
          deliver_policy: DeliverPolicy.StartSequence,
          opt_start_seq: checkpoint + 1,
        });
        this.messages = await consumer.consume({
          max_messages: this.batchSize * 2,
          expires: PULL_EXPIRES_MS,
        });
        if (this.stopping) this.messages.stop();
        await this.drain(this.messages);
        backoffMs = 250;
      } catch (error) {
        if (this.stopping) break;
        const failure = error instanceof BatchFailure ? error : undefined;
        const cause = failure?.cause ?? error;
        const kind = classifyFailure(cause);
        let delayMs: number;
        if (isTransient(kind)) {
          // Postgres, NATS or a store is away: wait, however long, without counting it.
          this.monitor.retried(this.consumer, kind);
          if (!this.waiting) {
            this.waiting = true;
            this.room.enter(Date.now());
            this.monitor.waiting(this.consumer, 1);
          }
          if (this.room.due(Date.now())) {
            this.logger.warn(
              {
                projection: this.name,
                kind,
                waitingSeconds: this.room.seconds(Date.now()),
                err: describeError(cause),
              },
              'projection waits for a dependency; trying again until it answers',
            );
          }
          delayMs = retryDelay(++this.waitingTries, this.delays);
        } else {
          this.logger.error(
            { projection: this.name, seq: failure?.firstSeq, err: describeError(cause) },
            'projection stopped; restarting from its checkpoint',
          );
          delayMs = failure === undefined ? backoffMs : this.onFailure(failure, kind);
          backoffMs = Math.min(backoffMs * 2, 10_000);
        }
        await sleep(delayMs, this.abort.signal);
      }
    }
  }

  /** Dead letters of the runner as a whole, and what its waits are counted under. */
  private get consumer(): string {
    return `projection:${this.name}`;
  }

  private get monitor() {
    return this.deadLetters.monitor;
  }

  /**
   * After a batch failed for a reason that counts: apply its events one by one to find the one, and
   * once that one has failed `maxDeliver` times (or at once, if it can never succeed) dead-letter it
   * for the projections to blame. Returns how long to wait before trying again.
   */
  private onFailure(failure: BatchFailure, kind: 'failure' | 'final'): number {
    if (failure.size > 1) {
      this.isolate = Math.max(this.isolate, failure.size);
      return 0;
    }
    if (this.stuck?.seq !== failure.firstSeq) this.stuck = { seq: failure.firstSeq, failures: 0 };
    const failures = ++this.stuck.failures;
    if (kind === 'final' || failures >= this.maxDeliver) {
      const error =
        kind === 'final'
          ? failure.cause
          : new NonRetryableError(
              'max_deliveries',
              `gave up after ${failures} attempts: ${describeError(failure.cause)}`,
              { cause: failure.cause },
            );
      this.skips.set(failure.firstSeq, new Map(failure.blame.map((p) => [p, error])));
      this.stuck = undefined;
      this.isolate = Math.max(this.isolate, 1);
      return 0;
    }
    return retryDelay(failures, this.delays);
  }

  /** A batch was applied (whatever it waited for is back, `log` it), or the runner stopped. */
  private stopWaiting(log: boolean): void {
    if (!this.waiting) return;
    this.waiting = false;
    this.waitingTries = 0;
    this.monitor.waiting(this.consumer, -1);
    const seconds = this.room.seconds(Date.now());
    if (this.room.leave() && log) {
      this.logger.info(
        { projection: this.name, waitedSeconds: seconds },
        'projection no longer waits for a dependency',
      );
    }
  }

  private async drain(messages: ConsumerMessages): Promise<void> {
    const pending: JsMsg[] = [];
    let flushing: Promise<void> | undefined;
    let failure: Error | undefined;
    const flush = async () => {
      while (pending.length > 0 && failure === undefined) {
        if (this.minBatchIntervalMs > 0 && pending.length < this.batchSize) {
          // Events keep coming: let the next ones join this batch.
          const wait = this.lastBatchAt + this.minBatchIntervalMs - Date.now();
          if (wait > 0) await sleep(wait, this.abort.signal);
        }
        this.lastBatchAt = Date.now();
        // One event per transaction while looking for the one a batch failed on.
        const batch = pending.splice(0, this.isolate > 0 ? 1 : this.batchSize);
        try {
          await this.applyBatch(batch);
          this.isolate = Math.max(0, this.isolate - batch.length);
        } catch (error) {
          failure = error instanceof Error ? error : new Error(String(error));
          messages.stop();
        }
      }
      flushing = undefined;
    };
    for await (const msg of messages) {
      if (failure !== undefined) break;
      pending.push(msg);
      flushing ??= flush();
      if (pending.length >= this.batchSize * 4) await flushing;
    }
    await flushing;
    if (failure !== undefined) throw failure;
  }

  private async applyBatch(all: JsMsg[]): Promise<void> {
    const last = all[all.length - 1]!;
    const accepts = this.options.accepts;
    const batch =
      accepts === undefined
        ? all
        : all.filter((msg) => {
            const type = eventTypeOf(msg.headers);
            return type === undefined || accepts(type);
          });
    if (batch.length === 0) {
      // Nothing here for the projections: the checkpoint moves with the next batch that has.
      this.advance(last.seq);
      return;
    }
    if (this.catchingUp.size > 0) this.joinCaughtUp();
    const names = this.activeNames;
    const first = batch[0]!;
    // What a failure is blamed on: refined inside the transaction.
    let firstSeq = first.seq;
    let size = batch.length;
    const recorded: Recorded[] = [];
    const committed: { projection: SqlProjection; after: number; events: StoredEvent[] }[] = [];
    try {
      await inSpan(
        `project ${this.name}`,
        {
          kind: SpanKind.CONSUMER,
          attributes: {
            'acai.service': this.bus.name,
            'acai.projection': this.name,
            'acai.batch': batch.length,
          },
          parent: extractTrace(first.headers),
        },
        async () => {
          // The hot path is plain SQL, a fixed number of statements per batch whatever its size and
          // however many projections: every event of the system goes through here, so they are
          // prepared once per connection (`queryPrepared`).
          await this.dataSource.transaction(async (m) => {
            recorded.length = 0;
            committed.length = 0;
            const rows = await queryPrepared<{ projection: string; last_seq: string }>(
              m,
              `SELECT projection, last_seq FROM ${this.tables.checkpoints}
               WHERE projection = ANY($1::text[]) ORDER BY projection FOR UPDATE`,
              [names],
            );
            const checkpoints = new Map(rows.map((r) => [r.projection, Number(r.last_seq)]));
            const lowest = Math.min(...names.map((n) => checkpoints.get(n) ?? 0));
            const fresh = batch.filter((msg) => msg.seq > lowest);
            if (fresh.length === 0) {
              // Applied already (by another process): a copy following the table learns it is behind.
              for (const projection of this.sqlProjections) {
                if (projection.committed === undefined || !names.includes(projection.name))
                  continue;
                committed.push({
                  projection,
                  after: checkpoints.get(projection.name) ?? 0,
                  events: [],
                });
              }
              return;
            }
            firstSeq = fresh[0]!.seq;
            size = fresh.length;
            const writes = await this.applyEvents(
              m,
              fresh,
              checkpoints,
              recorded,
              names,
              committed,
            );
            await this.write(m, writes, last.seq, names);
          });
        },
      );
    } catch (error) {
      const blame = error instanceof ProjectionFailure ? [error.projection] : names;
      throw new BatchFailure(
        firstSeq,
        size,
        blame,
        error instanceof ProjectionFailure ? error.cause : error,
      );
    }
    for (const seq of this.skips.keys()) if (seq <= last.seq) this.skips.delete(seq);
    for (const { projection, after, events } of committed) {
      try {
        projection.committed?.({ after, through: Math.max(after, last.seq), events });
      } catch (error) {
        this.logger.error(
          { projection: projection.name, err: describeError(error) },
          'a projection failed to follow a committed batch in memory',
        );
      }
    }
    for (const letter of recorded) {
      this.logger.warn(
        {
          projection: letter.projection,
          seq: letter.seq,
          subject: letter.subject,
          reason: letter.reason,
          err: letter.error,
        },
        'event sent to dead letters',
      );
      this.monitor.deadLettered(`projection:${liveName(letter.projection)}`, letter.reason);
    }
    this.stopWaiting(true);
    this.advance(last.seq);
    if (this.options.onApplied !== undefined) {
      const types = new Set<string>();
      for (const msg of batch) {
        const type = eventTypeOf(msg.headers);
        if (type !== undefined) types.add(type);
      }
      this.options.onApplied(last.seq, types);
    }
  }

  /**
   * Writes a batch's documents and moves its projections' checkpoints past it, in one statement:
   * one round trip, where a write and an update each took one.
   */
  private async write(
    m: EntityManager,
    writes: DocumentWrites,
    lastSeq: number,
    names: readonly string[],
  ): Promise<void> {
    const params: unknown[] = [names, lastSeq];
    const steps: string[] = [];
    if (writes.upsert.keys.length > 0) {
      const at = params.length;
      const { projections, keys, projects, docs, seqs } = writes.upsert;
      params.push(projections, keys, projects, docs, seqs);
      steps.push(
        `upserted AS (INSERT INTO ${this.tables.documents} (projection, key, project, doc, seq)
         SELECT u.projection, u.key, u.project, u.doc, u.seq
         FROM unnest($${at + 1}::text[], $${at + 2}::text[], $${at + 3}::text[], $${at + 4}::jsonb[], $${at + 5}::bigint[]) AS u(projection, key, project, doc, seq)
         ON CONFLICT (projection, key) DO UPDATE
         SET project = EXCLUDED.project, doc = EXCLUDED.doc, seq = EXCLUDED.seq)`,
      );
    }
    if (writes.deletes.keys.length > 0) {
      const at = params.length;
      params.push(writes.deletes.projections, writes.deletes.keys);
      steps.push(
        `deleted AS (DELETE FROM ${this.tables.documents} d
         USING unnest($${at + 1}::text[], $${at + 2}::text[]) AS w(projection, key)
         WHERE d.projection = w.projection AND d.key = w.key)`,
      );
    }
    // Data-modifying WITH steps run to completion whether or not anything reads them.
    await queryPrepared(
      m,
      `${steps.length > 0 ? `WITH ${steps.join(', ')} ` : ''}UPDATE ${this.tables.checkpoints}
       SET last_seq = GREATEST(last_seq, $2), updated_at = now()
       WHERE projection = ANY($1::text[])`,
      params,
    );
  }

  private async applyEvents(
    m: EntityManager,
    msgs: JsMsg[],
    checkpoints: ReadonlyMap<string, number>,
    recorded: Recorded[],
    names: readonly string[],
    committed: { projection: SqlProjection; after: number; events: StoredEvent[] }[],
  ): Promise<DocumentWrites> {
    const deadLetter = async (msg: JsMsg, error: unknown, projection: string) => {
      await this.deadLetter(m, msg, error, projection);
      recorded.push({
        projection,
        seq: msg.seq,
        subject: msg.subject,
        reason: deadLetterReason(error),
        error: describeError(error),
      });
    };
    const events: StoredEvent[] = [];
    for (const msg of msgs) {
      try {
        events.push(
          decodeEvent(msg.data, { stream: msg.info.stream, subject: msg.subject, seq: msg.seq }),
        );
      } catch (error) {
        // Each projection that has not passed it goes without it (a replay re-records only its own).
        for (const name of names) {
          if ((checkpoints.get(name) ?? 0) < msg.seq) await deadLetter(msg, error, name);
        }
      }
    }
    // The events a projection has not applied yet, less those it gave up on (dead-lettered here).
    const pendingFor = async (name: string): Promise<StoredEvent[]> => {
      const checkpoint = checkpoints.get(name) ?? 0;
      const mine: StoredEvent[] = [];
      for (const event of events) {
        if (event.position.seq <= checkpoint) continue;
        const skipped = this.skips.get(event.position.seq)?.get(name);
        if (skipped === undefined) {
          mine.push(event);
          continue;
        }
        const msg = msgs.find((x) => x.seq === event.position.seq)!;
        await deadLetter(msg, skipped, name);
      }
      return mine;
    };
    for (const projection of this.sqlProjections) {
      if (!names.includes(projection.name)) continue;
      const mine = await pendingFor(projection.name);
      if (projection.committed !== undefined) {
        committed.push({ projection, after: checkpoints.get(projection.name) ?? 0, events: mine });
      }
      if (mine.length === 0) continue;
      try {
        await projection.apply(m, mine);
      } catch (error) {
        throw new ProjectionFailure(projection.name, error);
      }
    }
    // Which documents each projection touches, for the events it has not applied yet.
    const work: { projection: Projection<Doc>; events: StoredEvent[]; keys: string[][] }[] = [];
    for (const projection of this.projections) {
      if (!names.includes(projection.name)) continue;
      const mine = await pendingFor(projection.name);
      work.push({ projection, events: mine, keys: mine.map((e) => [...projection.keys(e)]) });
    }
    const wanted = work.flatMap((w) =>
      [...new Set(w.keys.flat())].map((key) => [w.projection.name, key] as const),
    );
    const writes: DocumentWrites = {
      upsert: { projections: [], keys: [], projects: [], docs: [], seqs: [] },
      deletes: { projections: [], keys: [] },
    };
    if (wanted.length === 0) return writes;
    const rows = await queryPrepared<{ projection: string; key: string; doc: Doc; seq: string }>(
      m,
      `SELECT d.projection, d.key, d.doc, d.seq FROM ${this.tables.documents} d
       JOIN unnest($1::text[], $2::text[]) AS w(projection, key) USING (projection, key)`,
      [wanted.map(([p]) => p), wanted.map(([, k]) => k)],
    );
    const docs = new Map<
      string,
      { projection: string; key: string; doc: Doc | undefined; seq: number; dirty: boolean }
    >(
      rows.map((r) => [
        `${r.projection}\u0000${r.key}`,
        { projection: r.projection, key: r.key, doc: r.doc, seq: Number(r.seq), dirty: false },
      ]),
    );
    for (const { projection, events: mine, keys } of work) {
      for (const [i, event] of mine.entries()) {
        for (const key of keys[i]!) {
          const id = `${projection.name}\u0000${key}`;
          const current = docs.get(id);
          let next: Doc | undefined;
          try {
            next = projection.evolve(current?.doc, event, key);
          } catch (error) {
            // A projection that cannot fold an event is a bug: park the event, keep the model going.
            const msg = msgs.find((x) => x.seq === event.position.seq)!;
            await deadLetter(
              msg,
              new NonRetryableError('handler_failed', describeError(error), { cause: error }),
              projection.name,
            );
            continue;
          }
          if (next !== current?.doc) {
            docs.set(id, {
              projection: projection.name,
              key,
              doc: next,
              seq: event.position.seq,
              dirty: true,
            });
          }
        }
      }
    }
    const { upsert, deletes } = writes;
    for (const entry of docs.values()) {
      if (!entry.dirty) continue;
      if (entry.doc === undefined) {
        deletes.projections.push(entry.projection);
        deletes.keys.push(entry.key);
        continue;
      }
      upsert.projections.push(entry.projection);
      upsert.keys.push(entry.key);
      upsert.projects.push(projectField(entry.doc));
      upsert.docs.push(JSON.stringify(entry.doc));
      upsert.seqs.push(entry.seq);
    }
    return writes;
  }

  private async deadLetter(
    m: EntityManager,
    msg: JsMsg,
    error: unknown,
    projection: string,
  ): Promise<void> {
    await this.deadLetters.record(
      {
        consumer: `projection:${liveName(projection)}`,
        stream: msg.info.stream,
        seq: msg.seq,
        subject: msg.subject,
        reason: deadLetterReason(error),
        error: describeError(error),
        payload: msg.data,
        eventType: eventTypeOf(msg.headers) ?? null,
      },
      m,
    );
  }

  /** Where the consumer starts: after the lowest checkpoint of the runner's projections. */
  private async readCheckpoint(): Promise<number> {
    const names = this.activeNames;
    const rows = await this.dataSource.query<{ last_seq: string }[]>(
      `SELECT last_seq FROM ${this.tables.checkpoints} WHERE projection = ANY($1::text[])`,
      [names],
    );
    return rows.length < names.length ? 0 : Math.min(...rows.map((r) => Number(r.last_seq)));
  }

  private advance(seq: number): void {
    if (seq > this.appliedSeq) this.appliedSeq = seq;
    for (const w of this.waiters) {
      if (w.seq <= this.appliedSeq) {
        this.waiters.delete(w);
        w.resolve();
      }
    }
  }
}

function projectField(doc: unknown): string | null {
  if (
    typeof doc === 'object' &&
    doc !== null &&
    'project' in doc &&
    typeof doc.project === 'string'
  ) {
    return doc.project;
  }
  return null;
}

/** A replay's build (`<name>~replay`) keeps the live projection's dead letters: its name. */
function liveName(projection: string): string {
  return projection.endsWith(SHADOW_SUFFIX)
    ? projection.slice(0, -SHADOW_SUFFIX.length)
    : projection;
}
