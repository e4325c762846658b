import { dispatchQueueProjection, type WaitingJob } from '@acai/runs';
import type { DataSource, EntityManager } from 'typeorm';

/**
 * Jobs of a project in one pool, waiting or out, as the `dispatch-queue` read model counts them:
 * those out per run, those waiting all together (`runId` null).
 */
export interface QueueCount {
  readonly pool: string;
  readonly project: string;
  readonly runId: string | null;
  readonly state: 'waiting' | 'out';
  readonly jobs: number;
  /** The run's `maxParallel` (null: none; or jobs waiting). */
  readonly maxParallel: number | null;
  /** The provider of the pool (`local`, `ec2`, `simulated`). */
  readonly provider: string | null;
}

/** A waiting job, with the placement that caused its dispatch. */
export interface DispatchCandidate extends WaitingJob {
  readonly placedBy: string | null;
}

/** What a dispatch pass reads, while it alone passes (see {@link DispatchQueue.pass}). */
export interface DispatchQueueView {
  /** The jobs waiting per pool and project, and those out per pool, project and run. */
  counts(): Promise<QueueCount[]>;
  /**
   * The first `perProject` waiting jobs of each project in each of `pools` (highest priority, then
   * first placed), leaving out the runs named in `passOver` (at their `maxParallel`).
   */
  candidates(
    pools: readonly string[],
    perProject: number,
    passOver: readonly string[],
  ): Promise<DispatchCandidate[]>;
}

/** The `dispatch-queue` read model, and the lock that lets one dispatch pass run at a time. */
export abstract class DispatchQueue {
  /**
   * Runs `pass` while no other pass runs, in this process or another replica: what it releases is
   * in the read model before the next one reads it (`pass` waits for that before it returns).
   */
  abstract pass<T>(pass: (view: DispatchQueueView) => Promise<T>): Promise<T>;
}

/**
 * The read model's documents in the scheduler's schema, as its projection runner keeps them; the
 * lock is a Postgres advisory lock of the transaction a pass runs in, named by the schema (stacks
 * sharing a server do not wait for each other). A replica that dies mid-pass loses its connection,
 * and with it the lock.
 */
export class SqlDispatchQueue implements DispatchQueue {
  private readonly documents: string;
  private readonly lockName: string;

  constructor(private readonly db: DataSource) {
    const schema = (db.options as { schema?: string }).schema ?? 'public';
    this.documents = `"${schema.replace(/"/g, '""')}".projection_documents`;
    this.lockName = `${schema}.${dispatchQueueProjection.name}`;
  }

  pass<T>(pass: (view: DispatchQueueView) => Promise<T>): Promise<T> {
    return this.db.transaction(async (m) => {
      await m.query('SELECT pg_advisory_xact_lock(hashtext($1))', [this.lockName]);
      return pass(this.view(m));
    });
  }

  private view(m: EntityManager): DispatchQueueView {
    const name = dispatchQueueProjection.name;
    return {
      counts: async () => {
        const rows = await m.query<
          {
            pool: string;
            project: string;
            run_id: string | null;
            state: 'waiting' | 'out';
            jobs: number;
            max_parallel: number | null;
            provider: string | null;
          }[]
        >(
          // Jobs out per run (a run's maxParallel counts those); waiting ones per project only, so
          // a backlog of many runs is a handful of rows.
          `SELECT doc->>'pool' AS pool, project,
                  CASE WHEN doc->>'state' = 'out' THEN doc->>'runId' END AS run_id,
                  doc->>'state' AS state, count(*)::int AS jobs,
                  max((doc->>'maxParallel')::int) AS max_parallel, max(doc->>'provider') AS provider
           FROM ${this.documents}
           WHERE projection = $1 AND doc->>'state' IN ('waiting', 'out') AND doc->>'pool' IS NOT NULL
           GROUP BY 1, 2, 3, 4`,
          [name],
        );
        return rows.map((r) => ({
          pool: r.pool,
          project: r.project,
          runId: r.run_id,
          state: r.state,
          jobs: r.jobs,
          maxParallel: r.max_parallel,
          provider: r.provider,
        }));
      },
      candidates: async (pools, perProject, passOver) => {
        if (pools.length === 0 || perProject <= 0) return [];
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
          `SELECT project, job_id, run_id, pool, priority, max_parallel, placed_seq, placed_by FROM (
             SELECT project, doc->>'jobId' AS job_id, doc->>'runId' AS run_id, doc->>'pool' AS pool,
                    (doc->>'priority')::int AS priority, (doc->>'maxParallel')::int AS max_parallel,
                    (doc->>'placedSeq')::bigint AS placed_seq, doc->>'placedBy' AS placed_by,
                    row_number() OVER (
                      PARTITION BY doc->>'pool', project
                      ORDER BY (doc->>'priority')::int DESC, (doc->>'placedSeq')::bigint
                    ) AS turn
             FROM ${this.documents}
             WHERE projection = $1 AND doc->>'state' = 'waiting' AND doc->>'pool' = ANY($2::text[])
               AND NOT (coalesce(doc->>'runId', '') = ANY($3::text[]))
           ) waiting
           WHERE turn <= $4`,
          [name, pools, passOver, perProject],
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
    };
  }
}
