import type { DataSource, EntityManager } from 'typeorm';
import { describeError } from './errors.js';
import { silentLogger, type EventingLogger } from './logger.js';
import { silentMonitor, type ConsumerMonitor } from './monitor.js';
import { DeadLetterEntity } from './storage.entities.js';

export interface DeadLetter {
  readonly consumer: string;
  readonly stream: string;
  readonly seq: number;
  readonly subject: string;
  readonly reason: string;
  readonly error: string;
  readonly payload: Uint8Array;
  /** The event's type, when the consumer could tell it. */
  readonly eventType?: string | null;
}

/** A letter a replica has claimed to redrive. */
export interface ClaimedLetter extends DeadLetter {
  readonly id: string;
  readonly redrives: number;
}

/** What became of a letter handed back to its consumer. */
export type RedriveOutcome =
  /** Handled: the letter is removed. */
  | { readonly kind: 'handled' }
  /** Failed again, for good: the letter stays, with the new reason and one more redrive. */
  | { readonly kind: 'failed'; readonly reason: string; readonly error: string }
  /** The service stopped before it was done: the letter stays as it was, to be redriven again. */
  | { readonly kind: 'stopped' };

/**
 * How a consumer takes its letters back. An event consumer handles each letter again, as if it were
 * delivered now (`handle`). A projection is a fold in log order, so one event cannot be applied
 * again on its own: its letters are taken back by rebuilding the projection from the log
 * (`replay`), which applies every event again, theirs included; one that fails again is a new
 * letter.
 */
export type Redriver =
  | { readonly how: 'handle'; handle(letter: ClaimedLetter): Promise<RedriveOutcome> }
  | { readonly how: 'replay'; replay(): Promise<void> };

/**
 * What a service's consumers share about what they cannot handle: where poison messages go (a row
 * with the reason, so the consumer can carry on), who takes them back when an operator redrives
 * them, and where waits and failures are counted.
 */
export interface DeadLetterSink {
  record(letter: DeadLetter, manager?: EntityManager): Promise<void>;
  /** The consumer named `consumer` takes its letters back with `redriver`; returns how to stop. */
  register(consumer: string, redriver: Redriver): () => void;
  readonly monitor: ConsumerMonitor;
}

/** A letter as listed: metadata, and the payload only when asked for. */
export interface DeadLetterRow {
  readonly id: string;
  readonly consumer: string;
  readonly stream: string;
  readonly seq: number;
  readonly subject: string;
  readonly eventType: string | null;
  readonly reason: string;
  readonly error: string;
  /** ISO 8601 to the microsecond (UTC): what pages are keyed on, with the id. */
  readonly createdAt: string;
  readonly redrives: number;
  readonly redrivingSince: string | null;
  readonly payloadBytes: number;
  readonly payload?: Buffer;
}

export interface DeadLetterFilter {
  readonly consumer?: string;
  readonly reason?: string;
}

export interface DeadLetterQuery extends DeadLetterFilter {
  /** The last letter of the previous page: letters after it in (createdAt, id) order. */
  readonly after?: { readonly createdAt: string; readonly id: string };
  readonly limit: number;
  readonly payload?: boolean;
  /**
   * Most bytes a page may take (a bus message must hold it): past it the page ends early, with
   * `more`; a payload that alone would not fit is left out (its size is still shown).
   */
  readonly maxBytes?: number;
}

export interface DeadLetterPage {
  readonly items: DeadLetterRow[];
  /** Letters matching the filter, on every page. */
  readonly total: number;
  /** Whether letters follow the last one. */
  readonly more: boolean;
}

export interface RedriveRequest extends DeadLetterFilter {
  /** These letters only; otherwise every one matching the filter, `limit` at most. */
  readonly ids?: readonly string[];
  readonly limit: number;
}

export interface RedriveResult {
  /** Letters taken back, and how: handled again, or their projection replayed. */
  readonly redriven: {
    id: string;
    consumer: string;
    seq: number;
    subject: string;
    how: Redriver['how'];
  }[];
  /** Letters asked for by id that were not taken back, and why. */
  readonly refused: { id: string; consumer: string; why: 'redriving' | 'no_consumer' }[];
  /** Letters matching the filter still here (past `limit`, or claimed by no one). */
  readonly remaining: number;
}

/** How long a claim holds: a replica that dies with letters in hand leaves them redrivable after it. */
export const REDRIVE_LEASE_MS = 15 * 60_000;

const TIME = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;

/**
 * The service's dead letters, in its own schema (`dead_letters`): recorded by its consumers, listed
 * and redriven by an operator (through the control messages of dead-letter-control.ts).
 *
 * A redrive claims letters atomically (`redriving_since`, under `FOR UPDATE SKIP LOCKED`), so of
 * several replicas asked at once each letter goes to one, and hands each to the consumer it came
 * from (registered by name in this process). The letter stays in the table until the outcome is
 * known: removed once handled, updated (reason, error, one more redrive) if it failed again, freed
 * if the service stopped first. A claim older than {@link REDRIVE_LEASE_MS} is void: a replica that
 * died with letters in hand loses none.
 */
export class PostgresDeadLetters implements DeadLetterSink {
  readonly monitor: ConsumerMonitor;
  private readonly redrivers = new Map<string, Redriver>();
  private readonly logger: EventingLogger;
  private readonly table: string;
  /** Redriven letters whose outcome is not recorded yet. */
  private readonly inHand = new Map<string, Promise<void>>();

  constructor(
    private readonly dataSource: DataSource,
    options: { monitor?: ConsumerMonitor; logger?: EventingLogger } = {},
  ) {
    this.monitor = options.monitor ?? silentMonitor;
    this.logger = options.logger ?? silentLogger;
    const schema = (dataSource.options as { schema?: string }).schema ?? 'public';
    this.table = `"${schema.replace(/"/g, '""')}".dead_letters`;
  }

  /**
   * Records a letter, unless the consumer already has one for that message that is not being
   * redriven (the message was delivered again after the letter was written but before it was
   * settled, or a replay met the event again): one letter per consumer and message.
   */
  async record(
    letter: DeadLetter,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<void> {
    await manager.query(
      `INSERT INTO ${this.table} (consumer, stream, seq, subject, reason, error, payload, event_type)
       SELECT $1, $2, $3, $4, $5, $6, $7, $8
       WHERE NOT EXISTS (SELECT 1 FROM ${this.table}
         WHERE consumer = $1 AND stream = $2 AND seq = $3 AND redriving_since IS NULL)`,
      [
        letter.consumer,
        letter.stream,
        letter.seq,
        letter.subject,
        letter.reason,
        letter.error,
        Buffer.from(letter.payload),
        letter.eventType ?? null,
      ],
    );
  }

  register(consumer: string, redriver: Redriver): () => void {
    this.redrivers.set(consumer, redriver);
    return () => {
      if (this.redrivers.get(consumer) === redriver) this.redrivers.delete(consumer);
    };
  }

  /** Consumers that can take letters back in this process. */
  get consumers(): string[] {
    return [...this.redrivers.keys()].sort();
  }

  /** Every letter of a consumer (or all), oldest first: for tests and tools. */
  async list(consumer?: string, limit = 100): Promise<DeadLetterEntity[]> {
    return this.dataSource.getRepository(DeadLetterEntity).find({
      where: consumer === undefined ? {} : { consumer },
      order: { createdAt: 'ASC', id: 'ASC' },
      take: limit,
    });
  }

  /** Letters per consumer. */
  async counts(): Promise<Map<string, number>> {
    const rows = await this.dataSource.query<{ consumer: string; n: string }[]>(
      `SELECT consumer, count(*) AS n FROM ${this.table} GROUP BY consumer`,
    );
    return new Map(rows.map((r) => [r.consumer, Number(r.n)]));
  }

  /** A page of letters in (createdAt, id) order, after `query.after`. */
  async page(query: DeadLetterQuery): Promise<DeadLetterPage> {
    const filter = [query.consumer ?? null, query.reason ?? null];
    const rows = await this.dataSource.query<
      (Omit<DeadLetterRow, 'seq' | 'payloadBytes' | 'payload'> & {
        seq: string;
        payloadBytes: number;
        payload?: Buffer;
      })[]
    >(
      `SELECT id, consumer, stream, seq, subject, event_type AS "eventType", reason, error,
              redrives, octet_length(payload) AS "payloadBytes",
              to_char(created_at AT TIME ZONE 'UTC', ${TIME}) AS "createdAt",
              to_char(redriving_since AT TIME ZONE 'UTC', ${TIME}) AS "redrivingSince"
              ${query.payload === true ? ', payload' : ''}
       FROM ${this.table}
       WHERE ($1::text IS NULL OR consumer = $1) AND ($2::text IS NULL OR reason = $2)
         AND ($3::timestamptz IS NULL OR (created_at, id) > ($3::timestamptz, $4::uuid))
       ORDER BY created_at, id
       LIMIT $5`,
      [...filter, query.after?.createdAt ?? null, query.after?.id ?? null, query.limit + 1],
    );
    const [{ n }] = await this.dataSource.query<[{ n: string }]>(
      `SELECT count(*) AS n FROM ${this.table}
       WHERE ($1::text IS NULL OR consumer = $1) AND ($2::text IS NULL OR reason = $2)`,
      filter,
    );
    const items: DeadLetterRow[] = [];
    let bytes = 0;
    let more = rows.length > query.limit;
    for (const row of rows.slice(0, query.limit)) {
      const { payload, ...rest } = row;
      const item: DeadLetterRow = { ...rest, seq: Number(row.seq) };
      // Roughly what it takes as JSON: its text, and its payload in base64.
      const size = JSON.stringify(item).length + 64;
      const payloadSize = payload === undefined ? 0 : Math.ceil(payload.length / 3) * 4;
      const max = query.maxBytes ?? Infinity;
      if (items.length > 0 && bytes + size + payloadSize > max) {
        more = true;
        break;
      }
      const withPayload = payload !== undefined && bytes + size + payloadSize <= max;
      items.push(withPayload ? { ...item, payload } : item);
      bytes += size + (withPayload ? payloadSize : 0);
    }
    return { items, total: Number(n), more };
  }

  /**
   * Takes letters back (those named, or up to `limit` matching the filter) and hands each to the
   * consumer it came from; resolves once they are claimed, not handled (see the class comment).
   * Letters of a consumer this process does not run are left for a replica that does.
   */
  async redrive(request: RedriveRequest): Promise<RedriveResult> {
    const consumers = this.consumers;
    const ids = request.ids === undefined ? null : [...request.ids];
    const where = `consumer = ANY($1::text[])
      AND ($2::uuid[] IS NULL OR id = ANY($2::uuid[]))
      AND ($3::text IS NULL OR consumer = $3) AND ($4::text IS NULL OR reason = $4)
      AND (redriving_since IS NULL OR redriving_since < now() - make_interval(secs => $5))`;
    const params = [
      consumers,
      ids,
      request.consumer ?? null,
      request.reason ?? null,
      REDRIVE_LEASE_MS / 1000,
    ];
    // A statement that returns rows (not UPDATE's [rows, count]), oldest first.
    const claimed = await this.dataSource.query<
      (Omit<ClaimedLetter, 'seq' | 'payload'> & { seq: string; payload: Buffer })[]
    >(
      `WITH claimed AS (
         UPDATE ${this.table} SET redriving_since = now()
         WHERE id IN (
           SELECT id FROM ${this.table} WHERE ${where}
           ORDER BY created_at, id LIMIT $6 FOR UPDATE SKIP LOCKED)
         RETURNING id, consumer, stream, seq, subject, reason, error, payload,
                   event_type AS "eventType", redrives, created_at)
       SELECT id, consumer, stream, seq, subject, reason, error, payload, "eventType", redrives
       FROM claimed ORDER BY created_at, id`,
      [...params, request.limit],
    );
    const letters: ClaimedLetter[] = claimed.map((row) => ({ ...row, seq: Number(row.seq) }));
    const [{ n }] = await this.dataSource.query<[{ n: string }]>(
      `SELECT count(*) AS n FROM ${this.table}
       WHERE ($1::uuid[] IS NULL OR id = ANY($1::uuid[]))
         AND ($2::text IS NULL OR consumer = $2) AND ($3::text IS NULL OR reason = $3)
         AND NOT (id = ANY($4::uuid[]))`,
      [ids, request.consumer ?? null, request.reason ?? null, letters.map((l) => l.id)],
    );
    const refused: RedriveResult['refused'] = [];
    if (ids !== null) {
      const taken = new Set(letters.map((l) => l.id));
      const others = await this.dataSource.query<{ id: string; consumer: string }[]>(
        `SELECT id, consumer FROM ${this.table} WHERE id = ANY($1::uuid[])`,
        [ids.filter((id) => !taken.has(id))],
      );
      for (const other of others) {
        refused.push({
          id: other.id,
          consumer: other.consumer,
          why: this.redrivers.has(other.consumer) ? 'redriving' : 'no_consumer',
        });
      }
    }
    this.handBack(letters);
    return {
      redriven: letters.map((l) => ({
        id: l.id,
        consumer: l.consumer,
        seq: l.seq,
        subject: l.subject,
        how: this.redrivers.get(l.consumer)?.how ?? 'handle',
      })),
      refused,
      remaining: Number(n),
    };
  }

  /**
   * Resolves once the outcome of every letter handed back to an event consumer is recorded: call it
   * after the consumers stopped, before the database closes.
   */
  async drain(): Promise<void> {
    while (this.inHand.size > 0) await Promise.all(this.inHand.values());
  }

  private handBack(letters: readonly ClaimedLetter[]): void {
    const replays = new Map<string, ClaimedLetter[]>();
    for (const letter of letters) {
      const redriver = this.redrivers.get(letter.consumer);
      if (redriver === undefined) {
        // Unregistered between the claim and now (the service is stopping): free it.
        this.track(letter.id, this.settle(letter, { kind: 'stopped' }));
      } else if (redriver.how === 'replay') {
        replays.set(letter.consumer, [...(replays.get(letter.consumer) ?? []), letter]);
      } else if (!this.inHand.has(letter.id)) {
        this.track(
          letter.id,
          redriver.handle(letter).then(
            (outcome) => this.settle(letter, outcome),
            (error: unknown) =>
              this.settle(letter, {
                kind: 'failed',
                reason: 'handler_failed',
                error: describeError(error),
              }),
          ),
        );
      }
    }
    // One rebuild per projection, however many of its letters: they go once it has run.
    for (const [consumer, claimed] of replays) {
      const redriver = this.redrivers.get(consumer);
      if (redriver?.how !== 'replay') continue;
      this.logger.info(
        { consumer, letters: claimed.length },
        'dead letters redriven: replaying the projection',
      );
      // Not tracked for drain(): a rebuild cut short by a stop never ends, and its letters, still
      // claimed, are redrivable again once the claim is stale.
      void redriver
        .replay()
        .then(
          () => this.forget(claimed.map((l) => l.id)),
          async (error: unknown) => {
            this.logger.error(
              { consumer, err: describeError(error) },
              'replay of a redriven projection failed; its letters stay',
            );
            for (const letter of claimed) await this.settle(letter, { kind: 'stopped' });
          },
        )
        .catch((error: unknown) =>
          this.logger.error(
            { consumer, err: describeError(error) },
            'dead letter redrive not recorded',
          ),
        );
    }
  }

  private track(id: string, work: Promise<void>): void {
    const tracked = work
      .catch((error: unknown) =>
        this.logger.error({ id, err: describeError(error) }, 'dead letter redrive not recorded'),
      )
      .finally(() => {
        if (this.inHand.get(id) === tracked) this.inHand.delete(id);
      });
    this.inHand.set(id, tracked);
  }

  /** Records what became of a redriven letter. */
  private async settle(letter: ClaimedLetter, outcome: RedriveOutcome): Promise<void> {
    switch (outcome.kind) {
      case 'handled':
        this.logger.info(
          { consumer: letter.consumer, seq: letter.seq, id: letter.id },
          'redriven dead letter handled',
        );
        await this.forget([letter.id]);
        return;
      case 'failed':
        this.logger.warn(
          {
            consumer: letter.consumer,
            seq: letter.seq,
            id: letter.id,
            reason: outcome.reason,
            err: outcome.error,
          },
          'redriven dead letter failed again; it stays in dead letters',
        );
        this.monitor.deadLettered(letter.consumer, outcome.reason);
        await this.dataSource.query(
          `UPDATE ${this.table} SET reason = $2, error = $3, redrives = redrives + 1,
             redriving_since = NULL WHERE id = $1`,
          [letter.id, outcome.reason, outcome.error],
        );
        return;
      case 'stopped':
        await this.dataSource.query(
          `UPDATE ${this.table} SET redriving_since = NULL WHERE id = $1`,
          [letter.id],
        );
        return;
      default: {
        const unhandled: never = outcome;
        throw new Error(`unhandled redrive outcome ${JSON.stringify(unhandled)}`);
      }
    }
  }

  private async forget(ids: readonly string[]): Promise<void> {
    await this.dataSource.query(`DELETE FROM ${this.table} WHERE id = ANY($1::uuid[])`, [ids]);
  }
}
