import type { DataSource } from 'typeorm';
import type { QualitySpec } from '@acai/contracts';
import { relativeQualities } from '@acai/runs';

/** A file set version of the lineage graph with what the experiment graph says of it. */
export interface ArtifactStats {
  /** The lineage node id, `version:<fileset>@<version>`. */
  readonly node: string;
  readonly fileset: string;
  readonly version: number;
  /** null: the log names it but holds no commit of it. */
  readonly bytes: number | null;
  /** Its manifest's sha256: versions with the same one share their files (null: no commit seen). */
  readonly manifestSha256: string | null;
  readonly evicted: boolean;
  readonly pinned: boolean;
  /** The lineage node of the job that made it (null: uploaded, source data). */
  readonly maker: string | null;
  readonly makerRunId: string | null;
  /**
   * How long computing it took (null: not known): the job that made it, or, when that job took an
   * earlier result instead of running (a version copied from another project), the job that
   * computed that result, as `job.reused.from.savedSeconds` says (the chain of reuses followed).
   */
  readonly computeMs: number | null;
  /** How long the latest job that read it took to put it in place (null: never measured). */
  readonly loadMs: number | null;
  /** Jobs that read it, and jobs that took it as their result instead of running. */
  readonly reads: number;
  readonly reuses: number;
  /** Log position of its last use, or of its making. */
  readonly lastUsedSeq: number;
  /** A job that has not ended reads it. */
  readonly readByActiveJob: boolean;
  /**
   * The run that made it, or a run that took it as a reused result, has not ended (a step still to
   * come may read it).
   */
  readonly makerRunActive: boolean;
}

const ACTIVE_JOB = ['queued', 'provisioned', 'dispatched', 'running', 'retrying'];

/**
 * What the experiment graph knows of each artifact, from the lineage projection's tables (and the
 * runs read model, for runs not ended; job metrics, for quality): what the materializer weighs
 * and `GET /api/v1/experiment-graph` shows.
 */
export class ArtifactStatsReader {
  constructor(
    private readonly db: DataSource,
    private readonly schema: string,
  ) {}

  private t(table: string): string {
    return `"${this.schema.replace(/"/g, '""')}".${table}`;
  }

  /** The project's versions (only `nodes`, when given), with their makers and uses. */
  async versions(
    project: string,
    nodes: readonly string[] | null = null,
  ): Promise<ArtifactStats[]> {
    const n = this.t('lineage_nodes');
    const e = this.t('lineage_edges');
    const rows = await this.db.query<
      {
        id: string;
        fileset: string;
        version: number;
        bytes: string | null;
        manifest_sha256: string | null;
        evicted: boolean;
        pinned: boolean;
        seq: string;
        maker: string | null;
        maker_run: string | null;
        duration_ms: number | null;
        load_ms: number | null;
        reads: number;
        reuses: number;
        last_used: string | null;
        active_reader: boolean;
        run_active: boolean;
      }[]
    >(
      `SELECT v.id, v.fileset, v.version, v.bytes, v.manifest_sha256, v.evicted, v.pinned, v.seq, v.load_ms,
         p.id AS maker, p.run_id AS maker_run,
         -- A job that reused ran for nothing: what it saved is what computing it took.
         coalesce(p.duration_ms, p.saved_ms) AS duration_ms,
         (SELECT count(*)::int FROM ${e} u WHERE u.project = v.project AND u.src = v.id AND u.kind = 'input') AS reads,
         (SELECT count(*)::int FROM ${e} u WHERE u.project = v.project AND u.dst = v.id AND u.kind = 'reused') AS reuses,
         (SELECT max(u.seq) FROM ${e} u WHERE u.project = v.project
            AND ((u.src = v.id AND u.kind = 'input') OR (u.dst = v.id AND u.kind = 'reused'))) AS last_used,
         EXISTS (
           SELECT 1 FROM ${e} u JOIN ${n} j ON j.project = u.project AND j.id = u.dst
           WHERE u.project = v.project AND u.src = v.id AND u.kind = 'input' AND j.status = ANY($2)
         ) AS active_reader,
         EXISTS (
           SELECT 1 FROM ${this.t('projection_documents')} r
           WHERE r.projection = 'runs' AND r.project = v.project
             AND r.doc->>'status' IN ('queued', 'running')
             AND (r.key = p.run_id OR r.key IN (
               -- A run not ended that took it as a reused result: its next steps read it.
               SELECT j.run_id FROM ${e} u JOIN ${n} j ON j.project = u.project AND j.id = u.src
               WHERE u.project = v.project AND u.dst = v.id AND u.kind = 'reused'))
         ) AS run_active
       FROM ${n} v
       LEFT JOIN ${e} o ON o.project = v.project AND o.dst = v.id AND o.kind = 'output'
       LEFT JOIN ${n} p ON p.project = v.project AND p.id = o.src
       WHERE v.project = $1 AND v.kind = 'version' AND ($3::text[] IS NULL OR v.id = ANY($3))`,
      [project, ACTIVE_JOB, nodes],
    );
    return rows.map((r) => ({
      node: r.id,
      fileset: r.fileset,
      version: r.version,
      bytes: r.bytes === null ? null : Number(r.bytes),
      manifestSha256: r.manifest_sha256,
      evicted: r.evicted,
      pinned: r.pinned,
      maker: r.maker,
      makerRunId: r.maker_run,
      computeMs: r.duration_ms,
      loadMs: r.load_ms,
      reads: r.reads,
      reuses: r.reuses,
      lastUsedSeq: Number(r.last_used ?? r.seq),
      readByActiveJob: r.active_reader,
      makerRunActive: r.run_active,
    }));
  }

  /**
   * The best quality among the models each node leads to: each job that names a quality metric
   * scores its last reported value (negated when lower is better); a version scores the best of
   * the job that made it and of everything downstream of it; a job the best of itself and what it
   * made or led to.
   */
  async qualities(project: string, relative = false): Promise<(node: string) => number | null> {
    const scored = await this.db.query<{ id: string; quality: QualitySpec; value: number }[]>(
      `SELECT j.id, j.quality, m.value FROM ${this.t('lineage_nodes')} j
       JOIN LATERAL (
         SELECT value FROM ${this.t('job_metrics')} m
         WHERE m.project = j.project AND m.job_id = j.job_id AND m.name = j.quality->>'metric'
         ORDER BY m.seq DESC, m.idx DESC LIMIT 1
       ) m ON true
       WHERE j.project = $1 AND j.kind = 'job' AND j.quality IS NOT NULL`,
      [project],
    );
    if (scored.length === 0) return () => null;
    const own = new Map(
      relative
        ? relativeQualities(
            scored.map((s) => ({
              id: s.id,
              metric: s.quality.metric,
              goal: s.quality.goal,
              value: s.value,
            })),
          )
        : scored.map((s) => [s.id, s.quality.goal === 'min' ? -s.value : s.value] as const),
    );
    const edges = await this.db.query<{ src: string; dst: string; kind: string }[]>(
      `SELECT src, dst, kind FROM ${this.t('lineage_edges')} WHERE project = $1`,
      [project],
    );
    const down = new Map<string, string[]>();
    const makers = new Map<string, string[]>();
    for (const e of edges) {
      (down.get(e.src) ?? down.set(e.src, []).get(e.src)!).push(e.dst);
      if (e.kind === 'output') (makers.get(e.dst) ?? makers.set(e.dst, []).get(e.dst)!).push(e.src);
    }
    const best = new Map<string, number | null>();
    const reach = (id: string, seen: Set<string>): number | null => {
      const known = best.get(id);
      if (known !== undefined) return known;
      if (seen.has(id)) return null;
      seen.add(id);
      let q = own.get(id) ?? null;
      for (const next of down.get(id) ?? []) {
        const r = reach(next, seen);
        if (r !== null && (q === null || r > q)) q = r;
      }
      best.set(id, q);
      return q;
    };
    return (node) => {
      let q = reach(node, new Set());
      // The model a version is: the quality the job that made it reported.
      for (const maker of makers.get(node) ?? []) {
        const p = own.get(maker) ?? null;
        if (p !== null && (q === null || p > q)) q = p;
      }
      return q;
    };
  }

  /** For each job node, the version nodes it read. */
  async inputsOfJobs(project: string): Promise<Map<string, string[]>> {
    const rows = await this.db.query<{ src: string; dst: string }[]>(
      `SELECT src, dst FROM ${this.t('lineage_edges')} WHERE project = $1 AND kind = 'input'`,
      [project],
    );
    const inputs = new Map<string, string[]>();
    for (const r of rows) (inputs.get(r.dst) ?? inputs.set(r.dst, []).get(r.dst)!).push(r.src);
    return inputs;
  }

  /**
   * What the materializer weighs as a node's potential: the relative quality, in [0, 1], of the
   * best model it leads to. Each job that names a quality metric scores its last value against
   * the best value of that metric (and goal) in the project: value / best for a metric to
   * maximise, best / value for one to minimise (1: the best model); metrics are never compared
   * with each other. A node scores the best of what it leads to, as in `qualities`.
   */
  async relativeQualitiesOf(project: string): Promise<(node: string) => number | null> {
    return this.qualities(project, true);
  }
}
