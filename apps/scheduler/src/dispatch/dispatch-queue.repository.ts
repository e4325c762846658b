import { dispatchQueueProjection, type OutCount, type WaitingJob } from '@acai/runs';
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { queryPrepared } from '@acai/eventing';

/** Jobs of a run out (dispatched or running) in one pool, with the run's `maxParallel`. */
export interface RunOut extends OutCount {
  readonly maxParallel: number | null;
}

/** A project with jobs waiting in a pool, and the provider of that pool. */
export interface WaitingGroup {
  readonly pool: string;
  readonly project: string;
  readonly provider: string | null;
}

/** A waiting job, with the placement that caused its dispatch. */
export interface DispatchCandidate extends WaitingJob {
  readonly placedBy: string | null;
}

/** What a dispatch pass reads, while it alone passes (see {@link DispatchQueue.pass}). */
export interface DispatchQueueView {
  /**
   * The jobs out, per pool, project and run, and every project with jobs waiting, per pool: read
   * together (one statement, so one round trip and one snapshot of the read model).
   */
  state(): Promise<{ out: RunOut[]; groups: WaitingGroup[] }>;
  /**
   * The first `perProject` waiting jobs of each of `groups` (highest priority, then first placed),
   * leaving out the runs named in `passOver` (at their `maxParallel`).
   */
  candidates(
    groups: readonly WaitingGroup[],
    perProject: number,
    passOver: readonly string[],
  ): Promise<DispatchCandidate[]>;
  /** How many jobs wait, per pool and project (reads every waiting job: for the metrics). */
  waitingCounts(): Promise<{ pool: string; project: string; jobs: number }[]>;
}

/** A leader's session idle this long is ended by the server, and its lock goes with it. */
const LEADER_IDLE_TIMEOUT_S = 30;

/** The `dispatch-queue` read model, and the lock that lets one dispatcher pass at a time. */
export abstract class DispatchQueue {
  /**
   * Runs `pass` if this process is the one that dispatches (it holds the lock, or takes it now),
   * and answers what it answers; answers undefined when another replica holds the lock (it passes).
   * `pass` waits until the read model shows what it released before it returns.
   */
  abstract pass<T>(pass: (view: DispatchQueueView) => Promise<T>): Promise<T | undefined>;
  /** Lets the lock go, for another replica to take. */
  abstract close(): Promise<void>;
}

/**
 * The read model's documents in the scheduler's schema, as its projection runner keeps them, read
 * through the indexes of `SchedulerDispatchQueue1796700000000` (a pass costs a few index entries
 * per project, whatever the backlog). One replica dispatches: the one holding a Postgres advisory
 * lock (session-level, named by the schema, so stacks sharing a server do not wait for each other)
 * on a connection of its own, which it keeps while it lives; the others try to take it at each of
 * their passes. A replica that dies loses its connection, and with it the lock: another takes over
 * at its next pass (within the dispatcher's 2 s; within 30 s if its machine vanished without
 * closing the connection: the session's `idle_session_timeout`). Passes run no transaction: each read sees what
 * is committed, and one pass at a time runs in the replica that leads.
 */
export class SqlDispatchQueue implements DispatchQueue {
  private readonly documents: string;
  private readonly lockName: string;
  private runner: QueryRunner | undefined;

  constructor(private readonly db: DataSource) {
    const schema = (db.options as { schema?: string }).schema ?? 'public';
    this.documents = `"${schema.replace(/"/g, '""')}".projection_documents`;
    this.lockName = `${schema}.${dispatchQueueProjection.name}`;
  }

  async pass<T>(pass: (view: DispatchQueueView) => Promise<T>): Promise<T | undefined> {
    let runner = this.runner;
    if (runner === undefined) {
      runner = this.db.createQueryRunner();
      try {
        const [row] = await runner.manager.query<{ taken: boolean }[]>(
          'SELECT pg_try_advisory_lock(hashtext($1)) AS taken',
          [this.lockName],
        );
        if (row?.taken !== true) {
          await runner.release();
          return undefined;
        }
        // A leader whose machine vanished (no connection closed) would keep the lock until TCP gave
        // up, hours later: the server ends this session once it has been idle this long instead.
        // The leader passes every 2 s and waits at most 10 s inside a pass. (Postgres 14 and later.)
        await runner.manager
          .query(`SET idle_session_timeout = '${LEADER_IDLE_TIMEOUT_S}s'`)
          .catch(() => undefined);
      } catch (error) {
        await runner.release().catch(() => undefined);
        throw error;
      }
      this.runner = runner;
    }
    try {
      return await pass(this.view(runner.manager));
    } catch (error) {
      // The connection may be gone, and the lock with it: take it again next time.
      this.runner = undefined;
      await runner.release().catch(() => undefined);
      throw error;
    }
  }

  async close(): Promise<void> {
    const runner = this.runner;
    this.runner = undefined;
    if (runner === undefined) return;
    try {
      await runner.query('SELECT pg_advisory_unlock(hashtext($1))', [this.lockName]);
    } finally {
      await runner.release();
    }
  }

  private view(m: EntityManager): DispatchQueueView {
    const docs = this.documents;
    // The partial indexes' predicates, as literals, so the planner uses them. The statements
    // without parameters are prepared (their plan cannot depend on a value); `candidates` is
    // planned at each pass for the groups and limit it is given.
    const isOut = `projection = '${dispatchQueueProjection.name}' AND doc->>'state' = 'out'`;
    const isWaiting = `projection = '${dispatchQueueProjection.name}' AND doc->>'state' = 'waiting'`;
    return {
      state: async () => {
        // The jobs out grouped, and a skip scan of the waiting index (one entry per pool and
        // project), as the rows of one statement told apart by `kind`.
        const rows = await queryPrepared<{
          kind: 'out' | 'waiting';
          pool: string;
          project: string;
          run_id: string | null;
          jobs: number | null;
          max_parallel: number | null;
          provider: string | null;
        }>(
          m,
          `WITH RECURSIVE g AS (
             (SELECT doc->>'pool' AS pool, project, doc->>'provider' AS provider FROM ${docs}
              WHERE ${isWaiting} ORDER BY doc->>'pool', project LIMIT 1)
             UNION ALL
             SELECT n.pool, n.project, n.provider FROM g, LATERAL (
               SELECT doc->>'pool' AS pool, project, doc->>'provider' AS provider FROM ${docs}
               WHERE ${isWaiting} AND (doc->>'pool', project) > (g.pool, g.project)
               ORDER BY doc->>'pool', project LIMIT 1
             ) n
           )
           SELECT 'out'::text AS kind, doc->>'pool' AS pool, project, doc->>'runId' AS run_id,
                  count(*)::int AS jobs, max((doc->>'maxParallel')::int) AS max_parallel,
                  NULL::text AS provider
           FROM ${docs} WHERE ${isOut} GROUP BY 2, 3, 4
           UNION ALL
           SELECT 'waiting', pool, project, NULL, NULL, NULL, provider FROM g`,
          [],
        );
        const out: RunOut[] = [];
        const groups: WaitingGroup[] = [];
        for (const r of rows) {
          if (r.kind === 'out') {
            out.push({
              pool: r.pool,
              project: r.project,
              runId: r.run_id,
              jobs: r.jobs ?? 0,
              maxParallel: r.max_parallel,
            });
          } else groups.push({ pool: r.pool, project: r.project, provider: r.provider });
        }
        return { out, groups };
      },
      candidates: async (groups, perProject, passOver) => {
        if (groups.length === 0 || perProject <= 0) return [];
        const rows = await m.query<
          {
            project: string;
            job_id: string;
            run_id: string | null;
            pool: string;
            priority: number;
            max_parallel: number | null;
            placed_seq: string;
            placed_by: string | null;
          }[]
        >(
          `SELECT g.project, c.* FROM unnest($1::text[], $2::text[]) AS g(pool, project),
           LATERAL (
             SELECT doc->>'jobId' AS job_id, doc->>'runId' AS run_id, doc->>'pool' AS pool,
                    (doc->>'priority')::int AS priority, (doc->>'maxParallel')::int AS max_parallel,
                    (doc->>'placedSeq')::bigint AS placed_seq, doc->>'placedBy' AS placed_by
             FROM ${docs}
             WHERE ${isWaiting} AND doc->>'pool' = g.pool AND project = g.project
               AND NOT (coalesce(doc->>'runId', '') = ANY($3::text[]))
             ORDER BY (doc->>'priority')::int DESC, (doc->>'placedSeq')::bigint
             LIMIT $4
           ) c`,
          [groups.map((g) => g.pool), groups.map((g) => g.project), passOver, perProject],
        );
        return rows.map((r) => ({
          project: r.project,
          jobId: r.job_id,
          runId: r.run_id,
          pool: r.pool,
          priority: r.priority,
          maxParallel: r.max_parallel,
          placedSeq: Number(r.placed_seq),
          placedBy: r.placed_by,
        }));
      },
      waitingCounts: async () =>
        queryPrepared<{ pool: string; project: string; jobs: number }>(
          m,
          `SELECT doc->>'pool' AS pool, project, count(*)::int AS jobs
           FROM ${docs} WHERE ${isWaiting} GROUP BY 1, 2`,
          [],
        ),
    };
  }
}
