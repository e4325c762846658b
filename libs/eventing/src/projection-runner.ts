import { DeliverPolicy, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import type { DataSource, EntityManager } from 'typeorm';
import { subjects, type Projection, type StoredEvent } from '@acai/contracts';
import type { Bus } from './bus.js';
import { decodeEvent } from './codec.js';
import type { DeadLetterSink } from './dead-letters.js';
import { describeError, isMissing, NonRetryableError } from './errors.js';
import { silentLogger, type EventingLogger } from './logger.js';
import { ProjectionCheckpointEntity, ProjectionDocumentEntity } from './storage.entities.js';
import { extractTrace, inSpan, SpanKind } from './tracing.js';

export interface ProjectionRunnerOptions {
  readonly batchSize?: number;
  readonly logger?: EventingLogger;
  /** Events to read; all domain events by default. */
  readonly filterSubject?: string;
  /** A document's `project` column is taken from this field of the document. */
  readonly projectOf?: (doc: unknown) => string | null;
}

/**
 * Keeps one projection's documents in Postgres in step with the log. Reads with an ordered
 * consumer from the checkpoint onwards; each batch of events is applied in one transaction that
 * also moves the checkpoint, with the checkpoint row locked and events at or below it skipped,
 * so a redelivery, a restart mid-batch or a second replica never applies an event twice.
 */
export class ProjectionRunner<Doc> {
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private appliedSeq = 0;
  private readonly waiters = new Set<{ seq: number; resolve: () => void }>();
  private readonly batchSize: number;
  private readonly logger: EventingLogger;
  private readonly tables: { checkpoints: string; documents: string };

  constructor(
    private readonly bus: Bus,
    private readonly dataSource: DataSource,
    readonly projection: Projection<Doc>,
    private readonly deadLetters: DeadLetterSink,
    private readonly options: ProjectionRunnerOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 500;
    this.logger = options.logger ?? silentLogger;
    const schema = (dataSource.options as { schema?: string }).schema ?? 'public';
    const quoted = `"${schema.replace(/"/g, '""')}"`;
    this.tables = {
      checkpoints: `${quoted}.projection_checkpoints`,
      documents: `${quoted}.projection_documents`,
    };
  }

  get name(): string {
    return this.projection.name;
  }

  /** Last stream sequence applied (or skipped as irrelevant) by this runner. */
  get position(): number {
    return this.appliedSeq;
  }

  async start(): Promise<void> {
    this.stopping = false;
    await this.dataSource
      .createQueryBuilder()
      .insert()
      .into(ProjectionCheckpointEntity)
      .values({ projection: this.name, lastSeq: 0, updatedAt: new Date() })
      .orIgnore()
      .execute();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.messages?.stop();
    await this.loop;
    this.loop = undefined;
  }

  /** Resolves once every event up to `seq` has been applied. */
  waitFor(seq: number): Promise<void> {
    if (this.appliedSeq >= seq) return Promise.resolve();
    return new Promise((resolve) => this.waiters.add({ seq, resolve }));
  }

  /**
   * Waits (at most `timeoutMs`) until this projection has applied every event in the log as of
   * now: read-your-writes for a client that just wrote and reads back. Returns whether it caught up.
   */
  async catchUp(timeoutMs: number): Promise<boolean> {
    const target = await this.lastRelevantSeq();
    if (this.appliedSeq >= target) return true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>(
      (resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)),
    );
    const caughtUp = await Promise.race([this.waitFor(target).then(() => true), timedOut]);
    clearTimeout(timer);
    return caughtUp;
  }

  /**
   * Drops the read model and rebuilds it from the first event. Resolves when it has caught up with
   * the log as it was when replay was asked for; returns how many events that was.
   */
  async replay(): Promise<{ projection: string; lastSeq: number; documents: number }> {
    await this.stop();
    await this.dataSource.transaction(async (m) => {
      await m.delete(ProjectionDocumentEntity, { projection: this.name });
      await m.update(
        ProjectionCheckpointEntity,
        { projection: this.name },
        { lastSeq: 0, updatedAt: new Date() },
      );
    });
    this.appliedSeq = 0;
    const target = await this.lastRelevantSeq();
    await this.start();
    await this.waitFor(target);
    const documents = await this.dataSource
      .getRepository(ProjectionDocumentEntity)
      .countBy({ projection: this.name });
    return { projection: this.name, lastSeq: target, documents };
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
        this.messages = await consumer.consume({ max_messages: this.batchSize * 2 });
        if (this.stopping) this.messages.stop();
        await this.drain(this.messages);
        backoffMs = 250;
      } catch (error) {
        if (this.stopping) break;
        this.logger.error(
          { projection: this.name, err: describeError(error) },
          'projection stopped; restarting from its checkpoint',
        );
        await new Promise((r) => setTimeout(r, backoffMs));
        backoffMs = Math.min(backoffMs * 2, 10_000);
      }
    }
  }

  private async drain(messages: ConsumerMessages): Promise<void> {
    const pending: JsMsg[] = [];
    let flushing: Promise<void> | undefined;
    let failure: Error | undefined;
    const flush = async () => {
      while (pending.length > 0 && failure === undefined) {
        const batch = pending.splice(0, this.batchSize);
        try {
          await this.applyBatch(batch);
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

  private async applyBatch(batch: JsMsg[]): Promise<void> {
    const last = batch[batch.length - 1]!;
    const first = batch[0]!;
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
        // The hot path is plain SQL: one projection applies every event of the system.
        await this.dataSource.transaction(async (m) => {
          const rows = await m.query<{ last_seq: string }[]>(
            `SELECT last_seq FROM ${this.tables.checkpoints} WHERE projection = $1 FOR UPDATE`,
            [this.name],
          );
          const checkpoint = Number(rows[0]?.last_seq ?? 0);
          const fresh = batch.filter((msg) => msg.seq > checkpoint);
          if (fresh.length === 0) return;
          await this.applyEvents(m, fresh);
          await m.query(
            `UPDATE ${this.tables.checkpoints} SET last_seq = $2, updated_at = now() WHERE projection = $1`,
            [this.name, last.seq],
          );
        });
      },
    );
    this.advance(last.seq);
  }

  private async applyEvents(m: EntityManager, msgs: JsMsg[]): Promise<void> {
    const events: StoredEvent[] = [];
    for (const msg of msgs) {
      try {
        events.push(
          decodeEvent(msg.data, { stream: msg.info.stream, subject: msg.subject, seq: msg.seq }),
        );
      } catch (error) {
        await this.deadLetter(m, msg, error);
      }
    }
    const touched = events.map((event) => [...this.projection.keys(event)]);
    const keys = [...new Set(touched.flat())];
    if (keys.length === 0) return;
    const rows = await m.query<{ key: string; doc: Doc; seq: string }[]>(
      `SELECT key, doc, seq FROM ${this.tables.documents} WHERE projection = $1 AND key = ANY($2::text[])`,
      [this.name, keys],
    );
    const docs = new Map<string, { doc: Doc | undefined; seq: number; dirty: boolean }>(
      rows.map((r) => [r.key, { doc: r.doc, seq: Number(r.seq), dirty: false }]),
    );
    for (const [i, event] of events.entries()) {
      for (const key of touched[i]!) {
        const current = docs.get(key);
        let next: Doc | undefined;
        try {
          next = this.projection.evolve(current?.doc, event, key);
        } catch (error) {
          // A projection that cannot fold an event is a bug: park the event, keep the model going.
          const msg = msgs.find((x) => x.seq === event.position.seq)!;
          await this.deadLetter(
            m,
            msg,
            new NonRetryableError('handler_failed', describeError(error), { cause: error }),
          );
          continue;
        }
        if (next !== current?.doc)
          docs.set(key, { doc: next, seq: event.position.seq, dirty: true });
      }
    }
    const upsert = {
      keys: [] as string[],
      projects: [] as (string | null)[],
      docs: [] as string[],
      seqs: [] as number[],
    };
    const deletes: string[] = [];
    for (const [key, entry] of docs) {
      if (!entry.dirty) continue;
      if (entry.doc === undefined) {
        deletes.push(key);
        continue;
      }
      upsert.keys.push(key);
      upsert.projects.push(this.options.projectOf?.(entry.doc) ?? projectField(entry.doc));
      upsert.docs.push(JSON.stringify(entry.doc));
      upsert.seqs.push(entry.seq);
    }
    if (upsert.keys.length > 0) {
      await m.query(
        `INSERT INTO ${this.tables.documents} (projection, key, project, doc, seq)
         SELECT $1, u.key, u.project, u.doc, u.seq
         FROM unnest($2::text[], $3::text[], $4::jsonb[], $5::bigint[]) AS u(key, project, doc, seq)
         ON CONFLICT (projection, key) DO UPDATE
         SET project = EXCLUDED.project, doc = EXCLUDED.doc, seq = EXCLUDED.seq`,
        [this.name, upsert.keys, upsert.projects, upsert.docs, upsert.seqs],
      );
    }
    if (deletes.length > 0) {
      await m.query(
        `DELETE FROM ${this.tables.documents} WHERE projection = $1 AND key = ANY($2::text[])`,
        [this.name, deletes],
      );
    }
  }

  private async deadLetter(m: EntityManager, msg: JsMsg, error: unknown): Promise<void> {
    const reason = error instanceof NonRetryableError ? error.reason : 'handler_failed';
    this.logger.warn(
      {
        projection: this.name,
        seq: msg.seq,
        subject: msg.subject,
        reason,
        err: describeError(error),
      },
      'event sent to dead letters',
    );
    await this.deadLetters.record(
      {
        consumer: `projection:${this.name}`,
        stream: msg.info.stream,
        seq: msg.seq,
        subject: msg.subject,
        reason,
        error: describeError(error),
        payload: msg.data,
      },
      m,
    );
  }

  private async readCheckpoint(): Promise<number> {
    const row = await this.dataSource
      .getRepository(ProjectionCheckpointEntity)
      .findOneBy({ projection: this.name });
    return row?.lastSeq ?? 0;
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
