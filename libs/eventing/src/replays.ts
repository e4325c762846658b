import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { DataSource, EntityManager } from 'typeorm';
import { AcaiError, RunProblems, type ReplayStatus } from '@acai/contracts';
import { describeError } from './errors.js';
import type { EventingLogger } from './logger.js';

/** The name a read model's replay is built under, beside the live one. */
export const SHADOW_SUFFIX = '~replay';

/** How often the process building a replay says so, and records its progress. */
const HEARTBEAT_MS = 2_000;
/** A replay whose builder has not said so for this long is taken over by another process. */
const DEFAULT_STALE_SECONDS = 15;
/** How often a process looks for replays to take over. */
const WATCH_MS = 5_000;

/** A read model built from the first event beside the live one. */
export interface ShadowBuild {
  /** Starts (or goes on) applying the log from where the build's own checkpoint is. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Log position applied so far. */
  readonly position: number;
  /** Resolves once every event up to `seq` is applied. */
  waitFor(seq: number): Promise<void>;
  /** Removes what an earlier build left, before a fresh one. */
  clear(m: EntityManager): Promise<void>;
  /** Puts the build in the live model's place, inside the swap's transaction. */
  promote(m: EntityManager): Promise<void>;
  /** Documents (or rows) of the live model, once swapped. */
  count(m: EntityManager): Promise<number>;
}

export interface ReplaysHost {
  readonly dataSource: DataSource;
  readonly tables: { readonly checkpoints: string; readonly replays: string };
  /** Every projection of the runner: their checkpoints are locked together, as a batch locks them. */
  readonly names: readonly string[];
  readonly logger: EventingLogger;
  /** Sequence of the newest event the runner reads. */
  lastRelevantSeq(): Promise<number>;
  /** A build of projection `name` beside the live one. */
  shadow(name: string): ShadowBuild;
  /** Seconds without a word from a replay's builder before another takes it over (15). */
  readonly staleSeconds?: number;
}

interface ReplayRow {
  projection: string;
  status: ReplayStatus['status'];
  done: string;
  total: string;
  owner: string;
  started_at: Date;
  finished_at: Date | null;
  documents: string | null;
  error: string | null;
}

function statusOf(row: ReplayRow): ReplayStatus {
  return {
    projection: row.projection,
    status: row.status,
    done: Number(row.done),
    total: Number(row.total),
    startedAt: new Date(row.started_at).toISOString(),
    finishedAt: row.finished_at === null ? null : new Date(row.finished_at).toISOString(),
    documents: row.documents === null ? null : Number(row.documents),
    error: row.error,
  };
}

/**
 * Replays that never hide or lose a read model: each is built beside the live one (readers keep
 * seeing the live one) from the first event, and once it has caught up with the live one it is
 * swapped in, in one transaction holding the live checkpoints (so no replica applies an event
 * meanwhile, and the swapped model has every event the live one had). One replay of a read model
 * at a time across replicas: the `projection_replays` row is claimed, a second request is
 * `REPLAY_RUNNING` (409) with the progress. The process building it says so every 2 s; if it
 * dies, another process (or itself, restarted) takes the replay over where its build got to.
 */
export class Replays {
  private readonly owner = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly building = new Map<string, Promise<ReplayStatus>>();
  private readonly shadows = new Set<ShadowBuild>();
  private watcher: NodeJS.Timeout | undefined;
  private stopping = false;
  /** Resolves when this process stops building (whatever a build waits for, it stops waiting). */
  private stopped: Promise<void> = new Promise(() => undefined);
  private signalStop: () => void = () => undefined;

  private readonly staleSeconds: number;

  constructor(private readonly host: ReplaysHost) {
    this.staleSeconds = host.staleSeconds ?? DEFAULT_STALE_SECONDS;
  }

  /** Looks for replays to take over (a builder that died), now and every few seconds. */
  start(): void {
    this.stopping = false;
    this.stopped = new Promise((resolve) => (this.signalStop = resolve));
    this.watcher = setInterval(
      () => void this.takeOver(),
      Math.min(WATCH_MS, (this.staleSeconds * 1000) / 2),
    );
    this.watcher.unref();
    void this.takeOver();
  }

  /** Stops building here (another process, or this one restarted, takes the replays over). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.signalStop();
    clearInterval(this.watcher);
    await Promise.all([...this.shadows].map((s) => s.stop()));
    await Promise.allSettled(this.building.values());
  }

  /**
   * Starts a replay of `name`; answers at once with its status. A replay already running (here or
   * in another replica) is `REPLAY_RUNNING`.
   */
  async begin(name: string): Promise<ReplayStatus> {
    const total = await this.host.lastRelevantSeq();
    const rows = await this.host.dataSource.query<ReplayRow[]>(
      `INSERT INTO ${this.host.tables.replays} AS r
         (projection, status, done, total, owner, started_at, heartbeat_at)
       VALUES ($1, 'running', 0, $2, $3, now(), now())
       ON CONFLICT (projection) DO UPDATE
       SET status = 'running', done = 0, total = $2, owner = $3, started_at = now(),
           heartbeat_at = now(), finished_at = NULL, documents = NULL, error = NULL
       WHERE r.status <> 'running' OR r.heartbeat_at < now() - make_interval(secs => $4)
       RETURNING *`,
      [name, total, this.owner, this.staleSeconds],
    );
    const claimed = rows[0];
    if (claimed === undefined) {
      const current = await this.status(name);
      throw new AcaiError(
        RunProblems.REPLAY_RUNNING,
        `A replay of '${name}' is running (${current?.done ?? 0} of ${current?.total ?? 0} events, since ${current?.startedAt ?? '?'}); wait for it (GET /api/v1/projections/${name}) rather than start another`,
      );
    }
    const built = this.build(name, { fresh: true });
    this.building.set(name, built);
    return statusOf(claimed);
  }

  /** The replay being built here, until it ends. */
  whenDone(name: string): Promise<ReplayStatus> | undefined {
    return this.building.get(name);
  }

  /** The latest replay of `name` (running or ended), or null. */
  async status(name: string): Promise<ReplayStatus | null> {
    const rows = await this.host.dataSource.query<ReplayRow[]>(
      `SELECT * FROM ${this.host.tables.replays} WHERE projection = $1`,
      [name],
    );
    return rows[0] === undefined ? null : statusOf(rows[0]);
  }

  private async takeOver(): Promise<void> {
    if (this.stopping) return;
    try {
      // A SELECT around the UPDATE: TypeORM answers an UPDATE with [rows, count], a SELECT with rows.
      const rows = await this.host.dataSource.query<{ projection: string }[]>(
        `WITH claimed AS (
           UPDATE ${this.host.tables.replays}
           SET owner = $1, heartbeat_at = now()
           WHERE status = 'running' AND projection = ANY($2::text[])
             AND heartbeat_at < now() - make_interval(secs => $3)
           RETURNING projection
         ) SELECT projection FROM claimed`,
        [this.owner, this.host.names, this.staleSeconds],
      );
      for (const { projection } of rows) {
        if (this.building.has(projection)) continue;
        this.host.logger.warn(
          { projection },
          'taking over a replay whose builder stopped; it goes on from where its build got to',
        );
        this.building.set(projection, this.build(projection, { fresh: false }));
      }
    } catch (error) {
      this.host.logger.warn({ err: describeError(error) }, 'could not look for replays to resume');
    }
  }

  private async build(name: string, options: { fresh: boolean }): Promise<ReplayStatus> {
    const { dataSource, tables } = this.host;
    const shadow = this.host.shadow(name);
    this.shadows.add(shadow);
    const heartbeat = setInterval(() => {
      void dataSource
        .query(
          `UPDATE ${tables.replays} SET heartbeat_at = now(), done = GREATEST(done, $3)
           WHERE projection = $1 AND owner = $2 AND status = 'running'`,
          [name, this.owner, shadow.position],
        )
        .catch(() => undefined);
    }, HEARTBEAT_MS);
    heartbeat.unref();
    try {
      if (options.fresh) await dataSource.transaction((m) => shadow.clear(m));
      for (;;) {
        if (this.stopping) return (await this.status(name))!;
        await shadow.start();
        // Caught up with the live model (and the log as it was asked for), then swapped in while
        // the live checkpoints are held; if the live model moved on meanwhile, catch up again.
        const [row] = await dataSource.query<{ total: string }[]>(
          `SELECT total FROM ${tables.replays} WHERE projection = $1`,
          [name],
        );
        const target = Math.max(Number(row?.total ?? 0), await this.liveCheckpoint(name));
        await Promise.race([shadow.waitFor(target), this.stopped]);
        await shadow.stop();
        if (this.stopping) return (await this.status(name))!;
        if (await this.swap(name, shadow)) break;
      }
      const done = (await this.status(name))!;
      this.host.logger.info(
        { projection: name, events: done.done, documents: done.documents },
        'replay swapped in',
      );
      return done;
    } catch (error) {
      await shadow.stop().catch(() => undefined);
      this.host.logger.error({ projection: name, err: describeError(error) }, 'replay failed');
      await dataSource
        .query(
          `UPDATE ${tables.replays} SET status = 'failed', error = $3, finished_at = now()
           WHERE projection = $1 AND owner = $2`,
          [name, this.owner, describeError(error)],
        )
        .catch(() => undefined);
      return (await this.status(name)) ?? failedStatus(name, error);
    } finally {
      clearInterval(heartbeat);
      this.shadows.delete(shadow);
      this.building.delete(name);
    }
  }

  private async liveCheckpoint(name: string): Promise<number> {
    const rows = await this.host.dataSource.query<{ last_seq: string }[]>(
      `SELECT last_seq FROM ${this.host.tables.checkpoints} WHERE projection = $1`,
      [name],
    );
    return Number(rows[0]?.last_seq ?? 0);
  }

  /** Puts the build in the live model's place if it has every event the live one has. */
  private swap(name: string, shadow: ShadowBuild): Promise<boolean> {
    const { tables } = this.host;
    return this.host.dataSource.transaction(async (m) => {
      // Locked in the order a batch locks them: no replica applies an event until this commits.
      const live = await m.query<{ projection: string; last_seq: string }[]>(
        `SELECT projection, last_seq FROM ${tables.checkpoints}
         WHERE projection = ANY($1::text[]) ORDER BY projection FOR UPDATE`,
        [this.host.names],
      );
      const liveSeq = Number(live.find((r) => r.projection === name)?.last_seq ?? 0);
      const [built] = await m.query<{ last_seq: string }[]>(
        `SELECT last_seq FROM ${tables.checkpoints} WHERE projection = $1 FOR UPDATE`,
        [`${name}${SHADOW_SUFFIX}`],
      );
      const builtSeq = Number(built?.last_seq ?? 0);
      if (builtSeq < liveSeq) return false;
      const [claim] = await m.query<{ owner: string }[]>(
        `SELECT owner FROM ${tables.replays} WHERE projection = $1 FOR UPDATE`,
        [name],
      );
      if (claim?.owner !== this.owner) {
        throw new Error(`another process took this replay of '${name}' over`);
      }
      await shadow.promote(m);
      await m.query(
        `UPDATE ${tables.checkpoints} SET last_seq = $2, updated_at = now() WHERE projection = $1`,
        [name, builtSeq],
      );
      await m.query(`DELETE FROM ${tables.checkpoints} WHERE projection = $1`, [
        `${name}${SHADOW_SUFFIX}`,
      ]);
      const documents = await shadow.count(m);
      await m.query(
        `UPDATE ${tables.replays}
         SET status = 'succeeded', done = $2, documents = $3, finished_at = now(), heartbeat_at = now()
         WHERE projection = $1`,
        [name, builtSeq, documents],
      );
      return true;
    });
  }
}

function failedStatus(name: string, error: unknown): ReplayStatus {
  const now = new Date().toISOString();
  return {
    projection: name,
    status: 'failed',
    done: 0,
    total: 0,
    startedAt: now,
    finishedAt: now,
    documents: null,
    error: describeError(error),
  };
}
