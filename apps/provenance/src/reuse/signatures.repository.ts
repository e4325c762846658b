import type { DataSource, EntityManager } from 'typeorm';
import type { JobSignature, ReusableResult } from '@acai/contracts';
import type { IndexedJob } from './results-index.js';
import type { IndexSnapshot, ReuseLookupSource } from './reuse-lookup.js';
import type { SignaturesProjection } from './signatures.projection.js';

/** A signed job as the `job-signatures` projection keeps it. */
export interface SignedJob {
  readonly jobId: string;
  readonly runId: string;
  readonly name: string;
  readonly signature: string;
  readonly parts: JobSignature['parts'];
  readonly complete: boolean;
  readonly status: string;
  readonly reusedFrom: string | null;
  readonly reason: string | null;
  readonly seq: number;
}

/** Jobs' signatures, as the reuse planner and "why (not) reused?" read them. */
export abstract class SignaturesRepository {
  /** The newest result of the project with `signature`, other than `excludeJobId`'s. */
  abstract findResult(
    project: string,
    signature: string,
    excludeJobId: string,
  ): Promise<ReusableResult | null>;
  /** The `limit` newest results of the project with `signature`, newest first. */
  abstract findResults(
    project: string,
    signature: string,
    excludeJobId: string,
    limit: number,
  ): Promise<ReusableResult[]>;
  abstract find(project: string, jobId: string): Promise<SignedJob | null>;
  /** The newest job of the project's step `name` logged before `seq` (null: none). */
  abstract nearestBefore(project: string, name: string, seq: number): Promise<SignedJob | null>;
}

interface Row {
  job_id: string;
  run_id: string;
  name: string;
  signature: string;
  parts: JobSignature['parts'];
  complete: boolean;
  status: string;
  reused_from: string | null;
  reason: string | null;
  seq: string;
}

const signed = (r: Row): SignedJob => ({
  jobId: r.job_id,
  runId: r.run_id,
  name: r.name,
  signature: r.signature,
  parts: r.parts,
  complete: r.complete,
  status: r.status,
  reusedFrom: r.reused_from,
  reason: r.reason,
  seq: Number(r.seq),
});

export class SqlSignaturesRepository implements SignaturesRepository, ReuseLookupSource {
  /**
   * @param sharingTable whom each project shares its results with (`reuse_sharing`); without it,
   *   only the project's own results are found
   * @param checkpointsTable the projections' checkpoints, for `snapshot`
   * @param replaysTable the replays of read models, for when one of these was last swapped in
   * @param lineageNodesTable the lineage graph's nodes, for the content of the versions jobs
   *   committed (`snapshot`)
   */
  constructor(
    private readonly db: DataSource,
    private readonly projection: SignaturesProjection,
    private readonly sharingTable: string | null = null,
    private readonly checkpointsTable: string | null = null,
    private readonly replaysTable: string | null = null,
    private readonly lineageNodesTable: string | null = null,
  ) {}

  /**
   * Every row the reuse lookup's index keeps, of both tables, with the checkpoints of their
   * projections (`job-signatures`, `reuse-sharing`), as of one moment (one repeatable-read
   * transaction: what the projections had committed when it began).
   */
  async snapshot(): Promise<IndexSnapshot> {
    if (this.sharingTable === null || this.checkpointsTable === null) {
      throw new Error('the reuse index needs the sharing and checkpoint tables to load from');
    }
    const sharing = this.sharingTable;
    const checkpoints = this.checkpointsTable;
    const runner = this.db.createQueryRunner();
    try {
      await runner.connect();
      await runner.startTransaction('REPEATABLE READ');
      const m = runner.manager;
      const seqs = await m.query<{ projection: string; last_seq: string }[]>(
        `SELECT projection, last_seq FROM ${checkpoints}
         WHERE projection IN ('job-signatures', 'reuse-sharing')`,
      );
      const rows = await m.query<
        {
          project: string;
          job_id: string;
          run_id: string;
          name: string;
          signature: string;
          status: string;
          outputs: ReusableResult['outputs'];
          duration_ms: string | null;
          price_per_hour: number | null;
          reused_from: string | null;
          seq: string;
        }[]
      >(
        `SELECT project, job_id, run_id, name, signature, status, outputs, duration_ms,
           price_per_hour, reused_from, seq
         FROM ${this.projection.table()}`,
      );
      const shares = await m.query<{ project: string; with: string[] }[]>(
        `SELECT project, array_agg(shares_with ORDER BY shares_with) AS with FROM ${sharing}
         GROUP BY project`,
      );
      const swappedAt = await this.lastSwapIn(m);
      const manifests =
        this.lineageNodesTable === null
          ? []
          : await m.query<
              { project: string; fileset: string; version: number; manifest_sha256: string }[]
            >(
              `SELECT project, fileset, version, manifest_sha256 FROM ${this.lineageNodesTable}
               WHERE kind = 'version' AND manifest_sha256 IS NOT NULL
                 AND created_by->>'kind' = 'job'`,
            );
      await runner.commitTransaction();
      const at = (name: string) => Number(seqs.find((r) => r.projection === name)?.last_seq ?? 0);
      return {
        signatures: {
          checkpoint: at('job-signatures'),
          jobs: rows.map((r): IndexedJob => ({
            project: r.project,
            jobId: r.job_id,
            runId: r.run_id,
            name: r.name,
            signature: r.signature,
            status:
              r.status === 'queued' || r.status === 'succeeded' || r.status === 'reused'
                ? r.status
                : 'ended',
            outputs: r.outputs,
            durationMs: r.duration_ms === null ? null : Number(r.duration_ms),
            pricePerHour: r.price_per_hour,
            reusedFrom: r.reused_from,
            seq: Number(r.seq),
          })),
          manifests: manifests.map((r) => ({
            project: r.project,
            fileset: r.fileset,
            version: Number(r.version),
            sha256: r.manifest_sha256,
          })),
        },
        sharing: { checkpoint: at('reuse-sharing'), projects: shares },
        swappedAt,
      };
    } finally {
      if (runner.isTransactionActive) await runner.rollbackTransaction();
      await runner.release();
    }
  }

  /** When a replay of `job-signatures` or `reuse-sharing` was last swapped in (null: never). */
  lastSwap(): Promise<string | null> {
    return this.lastSwapIn(this.db);
  }

  private async lastSwapIn(m: Pick<EntityManager, 'query'>): Promise<string | null> {
    if (this.replaysTable === null) return null;
    const [row] = await m.query<{ at: Date | null }[]>(
      `SELECT max(finished_at) AS at FROM ${this.replaysTable}
       WHERE projection IN ('job-signatures', 'reuse-sharing') AND status = 'succeeded'`,
    );
    return row?.at == null ? null : new Date(row.at).toISOString();
  }

  async findResult(
    project: string,
    signature: string,
    excludeJobId: string,
  ): Promise<ReusableResult | null> {
    return (await this.findResults(project, signature, excludeJobId, 1))[0] ?? null;
  }

  async findResults(
    project: string,
    signature: string,
    excludeJobId: string,
    limit: number,
  ): Promise<ReusableResult[]> {
    const rows = await this.db.query<
      {
        job_id: string;
        run_id: string;
        name: string;
        outputs: ReusableResult['outputs'];
        duration_ms: string | null;
        price_per_hour: number | null;
        reused_from: string | null;
        project: string;
      }[]
    >(
      // The project's own results first, then those of projects that share theirs with it.
      `SELECT job_id, run_id, name, outputs, duration_ms, price_per_hour, reused_from, project
       FROM ${this.projection.table()}
       WHERE (project = $1${
         this.sharingTable === null
           ? ''
           : ` OR project IN (SELECT s.project FROM ${this.sharingTable} s WHERE s.shares_with = $1)`
       })
         AND signature = $2 AND status IN ('succeeded', 'reused') AND job_id <> $3
       ORDER BY (project = $1) DESC, seq DESC LIMIT $4`,
      [project, signature, excludeJobId, limit],
    );
    return rows.map((r) => ({
      ...(r.project === project ? {} : { project: r.project }),
      jobId: r.job_id,
      runId: r.run_id,
      name: r.name,
      outputs: r.outputs,
      durationMs: r.duration_ms === null ? null : Number(r.duration_ms),
      pricePerHour: r.price_per_hour,
      reusedFrom: r.reused_from,
    }));
  }

  async find(project: string, jobId: string): Promise<SignedJob | null> {
    const rows = await this.db.query<Row[]>(
      `SELECT * FROM ${this.projection.table()} WHERE project = $1 AND job_id = $2`,
      [project, jobId],
    );
    return rows[0] === undefined ? null : signed(rows[0]);
  }

  async nearestBefore(project: string, name: string, seq: number): Promise<SignedJob | null> {
    const rows = await this.db.query<Row[]>(
      `SELECT * FROM ${this.projection.table()} WHERE project = $1 AND name = $2 AND seq < $3
       ORDER BY seq DESC LIMIT 1`,
      [project, name, seq],
    );
    return rows[0] === undefined ? null : signed(rows[0]);
  }
}
