import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { DataSource } from 'typeorm';
import {
  AcaiError,
  CommonProblems,
  type ExperimentGraphView,
  type JobStatus,
} from '@acai/contracts';
import { OnCommand, ProjectionControl } from '@acai/eventing';
import { findRun } from '../history/fresh.js';
import { ReadModels } from '../history/read-models.repository.js';
import { ArtifactStatsReader } from '../materialize/artifact-stats.js';

/** Where the experiment graph's tables are: the provenance schema. */
export abstract class ExperimentGraphSource {
  abstract readonly db: DataSource;
  abstract readonly schema: string;
}

interface JobRow {
  id: string;
  job_id: string;
  run_id: string | null;
  step: string | null;
  status: JobStatus | null;
  duration_ms: number | null;
  reused_from: string | null;
  seq: string;
}

/**
 * The experiment graph (Derakhshan et al.) of a run or of the whole project, from the lineage
 * projection: operations (jobs) a page at a time in log order, and every artifact they touch with
 * its size, compute time, load time, reads, reuses and the quality of the models it leads to.
 */
@Controller()
export class ExperimentGraphHandler {
  private readonly stats: ArtifactStatsReader;

  constructor(
    private readonly source: ExperimentGraphSource,
    private readonly readModels: ReadModels,
    private readonly projections: ProjectionControl,
  ) {
    this.stats = new ArtifactStatsReader(source.db, source.schema);
  }

  private t(table: string): string {
    return `"${this.source.schema.replace(/"/g, '""')}".${table}`;
  }

  @OnCommand('getExperimentGraph')
  async getExperimentGraph(
    @Payload()
    req: {
      project: string;
      runId: string | null;
      limit: number;
      cursor: string | null;
    },
  ): Promise<ExperimentGraphView> {
    if (req.runId !== null) await this.findRun(req.project, req.runId);
    const after = req.cursor === null ? 0 : Number(req.cursor);
    if (!Number.isSafeInteger(after) || after < 0) {
      throw new AcaiError(
        CommonProblems.INVALID_REQUEST,
        'cursor is not one this API gave: pass the nextCursor of the previous page',
        [{ path: 'cursor', message: 'not a cursor of this API' }],
      );
    }
    const jobs = await this.source.db.query<JobRow[]>(
      `SELECT id, job_id, run_id, step, status, duration_ms, reused_from, seq
       FROM ${this.t('lineage_nodes')}
       WHERE project = $1 AND kind = 'job' AND ($2::text IS NULL OR run_id = $2) AND seq > $3
       ORDER BY seq, id LIMIT $4`,
      [req.project, req.runId, after, req.limit + 1],
    );
    const page = jobs.slice(0, req.limit);
    const ids = page.map((j) => j.id);
    const edges = await this.source.db.query<{ src: string; dst: string; kind: string }[]>(
      `SELECT src, dst, kind FROM ${this.t('lineage_edges')}
       WHERE project = $1 AND (src = ANY($2) OR dst = ANY($2))`,
      [req.project, ids],
    );
    const inputs = new Map<string, string[]>();
    const outputs = new Map<string, string[]>();
    const touched = new Set<string>();
    for (const e of edges) {
      if (e.kind === 'input') (inputs.get(e.dst) ?? inputs.set(e.dst, []).get(e.dst)!).push(e.src);
      else (outputs.get(e.src) ?? outputs.set(e.src, []).get(e.src)!).push(e.dst);
      touched.add(e.kind === 'input' ? e.src : e.dst);
    }
    const versions = touched.size === 0 ? [] : await this.stats.versions(req.project, [...touched]);
    const quality = versions.length === 0 ? () => null : await this.stats.qualities(req.project);
    return {
      runId: req.runId,
      operations: page.map((j) => ({
        id: j.id,
        jobId: j.job_id,
        runId: j.run_id,
        step: j.step,
        status: j.status ?? 'queued',
        durationMs: j.duration_ms,
        reusedFrom: j.reused_from,
        inputs: (inputs.get(j.id) ?? []).sort(),
        outputs: (outputs.get(j.id) ?? []).sort(),
      })),
      artifacts: versions
        .map((v) => ({
          id: v.node,
          fileset: v.fileset,
          version: v.version,
          bytes: v.bytes,
          madeBy: v.maker === null ? null : v.maker.slice('job:'.length),
          computeSeconds: v.computeMs === null ? null : v.computeMs / 1000,
          loadSeconds: v.loadMs === null ? null : v.loadMs / 1000,
          reads: v.reads,
          reuses: v.reuses,
          quality: quality(v.node),
          evicted: v.evicted,
          pinned: v.pinned,
        }))
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
      nextCursor: jobs.length > req.limit ? String(page.at(-1)!.seq) : null,
    };
  }

  private async findRun(project: string, runId: string): Promise<void> {
    await findRun(this.readModels, this.projections, project, runId);
  }
}
