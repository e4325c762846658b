import type { DataSource } from 'typeorm';
import {
  FilesetProblems,
  isProblem,
  type MaterializationDecision,
  type MaterializationPolicy,
  type StorageBudgetView,
} from '@acai/contracts';
import type { CommandSender, EventingLogger } from '@acai/eventing';
import { ArtifactStatsReader, type ArtifactStats } from './artifact-stats.js';
import {
  DEFAULT_ALPHA,
  planLeastRecentlyUsed,
  planMaterialization,
  planStrictLeastRecentlyUsed,
  type Artifact,
  type ScoredArtifact,
} from '@acai/runs';

/** A project's budget as stored. */
interface BudgetRow {
  project: string;
  budget_bytes: string | null;
  alpha: number;
  policy: MaterializationPolicy;
  evicted_versions: number;
  last_run_at: Date | null;
}

/** What one round did for a project. */
export interface MaterializationRound {
  readonly project: string;
  readonly budgetBytes: number;
  /** Bytes of the derived versions weighed, each content once. */
  readonly derivedBytes: number;
  /** The same after the round's evictions. */
  readonly keptBytes: number;
  readonly evicted: readonly ScoredArtifact[];
  /** Derived versions left after the round. */
  readonly kept: number;
  readonly refused: readonly { id: string; why: string }[];
}

/**
 * Keeps each project's derived artifacts (versions its jobs made) within its storage budget, counting
 * the bytes of versions with the same content (manifest) once, as the catalog stores them: weighs
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
  private readonly stats: ArtifactStatsReader;

  constructor(
    private readonly db: DataSource,
    private readonly schema: string,
    private readonly commands: CommandSender,
    private readonly logger: EventingLogger,
    private readonly intervalMs: number,
  ) {
    this.stats = new ArtifactStatsReader(db, schema);
  }

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
    // Versions with the same manifest share their files: their bytes are stored, and count, once.
    const derived = await this.db.query<{ n: number; bytes: string | null }[]>(
      `SELECT sum(d.n)::int AS n, sum(d.bytes) AS bytes FROM (
         SELECT count(*) AS n, max(v.bytes) AS bytes FROM ${this.t('lineage_nodes')} v
         WHERE v.project = $1 AND v.kind = 'version' AND NOT v.evicted AND v.bytes IS NOT NULL
           AND v.created_by->>'kind' = 'job'
         GROUP BY coalesce(v.manifest_sha256, v.id)) d`,
      [project],
    );
    return {
      project,
      budgetBytes: row?.budget_bytes == null ? null : Number(row.budget_bytes),
      alpha: row?.alpha ?? DEFAULT_ALPHA,
      policy: row?.policy ?? 'utility',
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
    policy: MaterializationPolicy = 'utility',
  ): Promise<StorageBudgetView> {
    await this.db.query(
      `INSERT INTO ${this.t('storage_budgets')} (project, budget_bytes, alpha, policy, updated_at)
       VALUES ($1, $2, $3, $4, now())
       ON CONFLICT (project) DO UPDATE SET budget_bytes = $2, alpha = $3, policy = $4, updated_at = now()`,
      [project, bytes, alpha ?? DEFAULT_ALPHA, policy],
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
      derivedBytes: Math.min(view.derivedBytes, done.keptBytes),
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
    const plan = planOf(budget.policy)(artifacts, budgetBytes, budget.alpha);
    const derivedBytes = plan.totalBytes;
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
        policy: budget.policy,
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
    const gone = new Set(evicted.map((a) => a.id));
    const left = new Map<string, number>();
    for (const a of artifacts) if (!gone.has(a.id)) left.set(a.content ?? a.id, a.bytes);
    return {
      project,
      budgetBytes,
      derivedBytes,
      keptBytes: [...left.values()].reduce((n, b) => n + b, 0),
      evicted,
      kept: artifacts.length - evicted.length,
      refused,
    };
  }

  /** The project's derived versions not evicted, weighed from the lineage graph. */
  async artifacts(project: string): Promise<Artifact[]> {
    const versions = await this.stats.versions(project);
    const quality = await this.stats.relativeQualitiesOf(project);
    const readBy = await this.stats.inputsOfJobs(project);
    const byNode = new Map(versions.map((v) => [v.node, v] as const));
    const id = (v: ArtifactStats): string => `${v.fileset}@${v.version}`;
    // Derived versions the job that made `v` read.
    const madeFrom = (v: ArtifactStats): ArtifactStats[] =>
      (v.maker === null ? [] : (readBy.get(v.maker) ?? [])).flatMap((node) => {
        const input = byNode.get(node);
        return input === undefined || input.maker === null ? [] : [input];
      });
    // Recreating `v`: its job, after recreating whatever it read that is already evicted.
    const cost = new Map<string, number>();
    const recreate = (v: ArtifactStats, seen: Set<string>): number => {
      const known = cost.get(v.node);
      if (known !== undefined) return known;
      seen.add(v.node);
      let seconds = (v.computeMs ?? 0) / 1000;
      for (const input of madeFrom(v))
        if (input.evicted && !seen.has(input.node)) seconds += recreate(input, seen);
      cost.set(v.node, seconds);
      return seconds;
    };
    return versions.flatMap((v) =>
      v.maker === null || v.evicted || v.bytes === null
        ? []
        : [
            {
              id: id(v),
              fileset: v.fileset,
              version: v.version,
              bytes: v.bytes,
              ...(v.manifestSha256 === null ? {} : { content: v.manifestSha256 }),
              recreateSeconds: recreate(v, new Set()),
              madeFrom: madeFrom(v)
                .filter((input) => !input.evicted)
                .map(id),
              uses: v.reads + v.reuses,
              quality: quality(v.node),
              protectedBecause: v.pinned
                ? 'it is pinned'
                : v.readByActiveJob
                  ? 'a job not ended reads it'
                  : v.makerRunActive
                    ? 'a run that made or reused it has not ended'
                    : null,
              lastUsedSeq: v.lastUsedSeq,
            },
          ],
    );
  }
}

function planOf(policy: MaterializationPolicy): typeof planMaterialization {
  switch (policy) {
    case 'utility':
      return planMaterialization;
    case 'lru':
      return planLeastRecentlyUsed;
    case 'lru-strict':
      return planStrictLeastRecentlyUsed;
    default: {
      const _exhaustive: never = policy;
      return _exhaustive;
    }
  }
}

function fmtBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}
