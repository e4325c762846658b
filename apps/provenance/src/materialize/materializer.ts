import type { DataSource } from 'typeorm';
import {
  FilesetProblems,
  isProblem,
  type MaterializationDecision,
  type QualitySpec,
  type StorageBudgetView,
} from '@acai/contracts';
import type { CommandSender, EventingLogger } from '@acai/eventing';
import { DEFAULT_ALPHA, planMaterialization, type Artifact, type ScoredArtifact } from '@acai/runs';

/** A project's budget as stored. */
interface BudgetRow {
  project: string;
  budget_bytes: string | null;
  alpha: number;
  evicted_versions: number;
  last_run_at: Date | null;
}

/** What one round did for a project. */
export interface MaterializationRound {
  readonly project: string;
  readonly budgetBytes: number;
  readonly derivedBytes: number;
  readonly evicted: readonly ScoredArtifact[];
  /** Derived versions left after the round. */
  readonly kept: number;
  readonly refused: readonly { id: string; why: string }[];
}

const ACTIVE_JOB = ['queued', 'provisioned', 'dispatched', 'running', 'retrying'];

/**
 * Keeps each project's derived artifacts (versions its jobs made) within its storage budget: weighs
 * them from the lineage graph (size, the running time of the job that made each, its uses, the
 * quality of the models it leads to) and evicts those of lowest utility through the catalog, each
 * eviction recording the decision. Never evicted: source data (versions no job made), pinned
 * versions, inputs of jobs not ended, and outputs of runs not ended (a step still to come may read
 * them). A round runs when a budget is set and every `intervalMs` for projects that have one; a
 * round that fails (the catalog or Postgres away) is logged and the next one tries again.
 */
export class Materializer {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: DataSource,
    private readonly schema: string,
    private readonly commands: CommandSender,
    private readonly logger: EventingLogger,
    private readonly intervalMs: number,
  ) {}

  private t(table: string): string {
    return `"${this.schema.replace(/"/g, '""')}".${table}`;
  }

  start(): void {
    if (this.intervalMs <= 0 || this.timer !== null) return;
    this.timer = setInterval(() => {
      this.running = this.running.then(() => this.roundForAll());
    }, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  async view(project: string): Promise<StorageBudgetView> {
    const rows = await this.db.query<BudgetRow[]>(
      `SELECT * FROM ${this.t('storage_budgets')} WHERE project = $1`,
      [project],
    );
    const row = rows[0];
    const derived = await this.db.query<{ n: number; bytes: string | null }[]>(
      `SELECT count(*)::int AS n, sum(v.bytes) AS bytes FROM ${this.t('lineage_nodes')} v
       WHERE v.project = $1 AND v.kind = 'version' AND NOT v.evicted AND v.bytes IS NOT NULL
         AND v.created_by->>'kind' = 'job'`,
      [project],
    );
    return {
      project,
      budgetBytes: row?.budget_bytes == null ? null : Number(row.budget_bytes),
      alpha: row?.alpha ?? DEFAULT_ALPHA,
      derivedBytes: Number(derived[0]?.bytes ?? 0),
      derivedVersions: derived[0]?.n ?? 0,
      evictedVersions: row?.evicted_versions ?? 0,
      lastRunAt: row?.last_run_at?.toISOString() ?? null,
    };
  }

  /** Sets (or clears) the budget and weighs the project at once. */
  async setBudget(
    project: string,
    bytes: number | null,
    alpha: number | undefined,
  ): Promise<StorageBudgetView> {
    await this.db.query(
      `INSERT INTO ${this.t('storage_budgets')} (project, budget_bytes, alpha, updated_at)
       VALUES ($1, $2, $3, now())
       ON CONFLICT (project) DO UPDATE SET budget_bytes = $2, alpha = $3, updated_at = now()`,
      [project, bytes, alpha ?? DEFAULT_ALPHA],
    );
    if (bytes === null) return this.view(project);
    const round = this.running.then(() => this.round(project));
    this.running = round.then(
      () => undefined,
      () => undefined,
    );
    const done = await round;
    const view = await this.view(project);
    if (done === null) return view;
    // The evictions are in the log, not yet in the lineage graph this reads: count them out.
    return {
      ...view,
      derivedBytes: Math.min(
        view.derivedBytes,
        done.derivedBytes - done.evicted.reduce((n, a) => n + a.bytes, 0),
      ),
      derivedVersions: Math.min(view.derivedVersions, done.kept),
    };
  }

  private async roundForAll(): Promise<void> {
    try {
      const rows = await this.db.query<{ project: string }[]>(
        `SELECT project FROM ${this.t('storage_budgets')} WHERE budget_bytes IS NOT NULL`,
      );
      for (const { project } of rows) await this.round(project);
    } catch (error) {
      this.logger.warn(
        { err: (error as Error).message },
        'the materializer could not weigh the projects; it tries again at its next round',
      );
    }
  }

  /** One round for a project: weigh its derived artifacts and evict what does not fit. */
  async round(project: string): Promise<MaterializationRound | null> {
    const rows = await this.db.query<BudgetRow[]>(
      `SELECT * FROM ${this.t('storage_budgets')} WHERE project = $1`,
      [project],
    );
    const budget = rows[0];
    if (budget === undefined || budget.budget_bytes === null) return null;
    const budgetBytes = Number(budget.budget_bytes);
    const artifacts = await this.artifacts(project);
    const derivedBytes = artifacts.reduce((n, a) => n + a.bytes, 0);
    const plan = planMaterialization(artifacts, budgetBytes, budget.alpha);
    const evicted: ScoredArtifact[] = [];
    const refused: { id: string; why: string }[] = [];
    const lowestKept = [...plan.keep]
      .filter((a) => a.protectedBecause === null)
      .sort((a, b) => a.utility - b.utility)
      .slice(0, 5)
      .map((a) => ({ fileset: a.fileset, version: a.version, bytes: a.bytes, utility: a.utility }));
    for (const a of plan.evict) {
      const decision: MaterializationDecision = {
        by: 'materializer',
        utility: a.utility,
        recreateSeconds: a.recreateSeconds,
        uses: a.uses,
        quality: a.quality,
        alpha: budget.alpha,
        budgetBytes,
        derivedBytes,
        alternatives: lowestKept,
      };
      try {
        await this.commands.send('evictVersion', {
          project,
          name: a.fileset,
          version: a.version,
          reason: `storage budget: ${fmtBytes(derivedBytes)} of derived artifacts over ${fmtBytes(budgetBytes)}; utility ${a.utility.toFixed(4)} is among the lowest (recreated in ${a.recreateSeconds.toFixed(1)} s, used ${a.uses === 1 ? 'once' : `${a.uses} times`})`,
          decision,
        });
        evicted.push(a);
      } catch (error) {
        // Pinned since it was weighed, or gone: kept, and the next round weighs it again.
        if (isProblem(error, FilesetProblems.VERSION_PINNED, FilesetProblems.VERSION_NOT_FOUND)) {
          refused.push({ id: a.id, why: error.message });
          continue;
        }
        throw error;
      }
    }
    await this.db.query(
      `UPDATE ${this.t('storage_budgets')} SET last_run_at = now(), evicted_versions = evicted_versions + $2
       WHERE project = $1`,
      [project, evicted.length],
    );
    if (evicted.length > 0) {
      this.logger.info(
        {
          project,
          budgetBytes,
          derivedBytes,
          evicted: evicted.map((a) => a.id),
        },
        'derived artifacts evicted to keep within the storage budget',
      );
    }
    return {
      project,
      budgetBytes,
      derivedBytes,
      evicted,
      kept: artifacts.length - evicted.length,
      refused,
    };
  }

  /** The project's derived versions not evicted, weighed from the lineage graph. */
  async artifacts(project: string): Promise<Artifact[]> {
    const nodes = this.t('lineage_nodes');
    const edges = this.t('lineage_edges');
    const rows = await this.db.query<
      {
        id: string;
        fileset: string;
        version: number;
        bytes: string;
        pinned: boolean;
        seq: string;
        producer: string;
        duration_ms: number | null;
        uses: number;
        last_used: string | null;
        active_reader: boolean;
        run_active: boolean;
      }[]
    >(
      `SELECT v.id, v.fileset, v.version, v.bytes, v.pinned, v.seq, p.id AS producer, p.duration_ms,
         (SELECT count(*)::int FROM ${edges} u WHERE u.project = v.project AND u.src = v.id AND u.kind = 'input') AS uses,
         (SELECT max(u.seq) FROM ${edges} u WHERE u.project = v.project AND u.src = v.id AND u.kind = 'input') AS last_used,
         EXISTS (
           SELECT 1 FROM ${edges} u JOIN ${nodes} j ON j.project = u.project AND j.id = u.dst
           WHERE u.project = v.project AND u.src = v.id AND u.kind = 'input' AND j.status = ANY($2)
         ) AS active_reader,
         EXISTS (
           SELECT 1 FROM ${this.t('projection_documents')} r
           WHERE r.projection = 'runs' AND r.key = p.run_id AND r.project = v.project
             AND r.doc->>'status' IN ('queued', 'running')
         ) AS run_active
       FROM ${nodes} v
       JOIN ${edges} e ON e.project = v.project AND e.dst = v.id AND e.kind = 'output'
       JOIN ${nodes} p ON p.project = v.project AND p.id = e.src
       WHERE v.project = $1 AND v.kind = 'version' AND NOT v.evicted AND v.bytes IS NOT NULL`,
      [project, ACTIVE_JOB],
    );
    const reused = await this.reuseCounts(project);
    const quality = await this.qualities(project);
    return rows.map((r) => ({
      id: `${r.fileset}@${r.version}`,
      fileset: r.fileset,
      version: r.version,
      bytes: Number(r.bytes),
      recreateSeconds: (r.duration_ms ?? 0) / 1000,
      uses: r.uses + (reused.get(r.producer) ?? 0),
      quality: quality(r.id),
      protectedBecause: r.pinned
        ? 'it is pinned'
        : r.active_reader
          ? 'a job not ended reads it'
          : r.run_active
            ? 'the run that made it has not ended'
            : null,
      lastUsedSeq: Number(r.last_used ?? r.seq),
    }));
  }

  /** How many jobs took each producer's result instead of running, by lineage job id. */
  private async reuseCounts(project: string): Promise<Map<string, number>> {
    const rows = await this.db.query<{ reused_from: string; n: number }[]>(
      `SELECT reused_from, count(*)::int AS n FROM ${this.t('job_signatures')}
       WHERE project = $1 AND status = 'reused' GROUP BY reused_from`,
      [project],
    );
    return new Map(rows.map((r) => [`job:${r.reused_from}`, r.n]));
  }

  /**
   * The best quality among the models each version leads to: each job that names a quality metric
   * scores its last reported value (negated when lower is better); a version scores the best of
   * the job that made it and of everything downstream of it.
   */
  private async qualities(project: string): Promise<(versionId: string) => number | null> {
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
      scored.map((s) => [s.id, s.quality.goal === 'min' ? -s.value : s.value] as const),
    );
    const edges = await this.db.query<{ src: string; dst: string }[]>(
      `SELECT src, dst FROM ${this.t('lineage_edges')} WHERE project = $1`,
      [project],
    );
    const down = new Map<string, string[]>();
    const up = new Map<string, string[]>();
    for (const e of edges) {
      (down.get(e.src) ?? down.set(e.src, []).get(e.src)!).push(e.dst);
      (up.get(e.dst) ?? up.set(e.dst, []).get(e.dst)!).push(e.src);
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
    return (versionId) => {
      let q = reach(versionId, new Set());
      // The model the version is: the quality its own job reported.
      for (const producer of up.get(versionId) ?? []) {
        const p = own.get(producer) ?? null;
        if (p !== null && (q === null || p > q)) q = p;
      }
      return q;
    };
  }
}

function fmtBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}
