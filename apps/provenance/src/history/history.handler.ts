import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import {
  AcaiError,
  RunProblems,
  type HistoryEntry,
  type JobView,
  type Page,
  type RunLimitsView,
  type RunTrialsView,
  type RunView,
} from '@acai/contracts';
import { OnCommand, ProjectionControl } from '@acai/eventing';
import { estimateProgress, type JobHistoryDoc, type RunTrialsDoc } from '@acai/runs';
import { MetricsRepository } from '../metrics/metrics.repository.js';
import { findJob, findRun } from './fresh.js';
import { ReadModels } from './read-models.repository.js';

/** Answers questions about what happened, from the projections of the log. */
@Controller()
export class HistoryHandler {
  constructor(
    private readonly readModels: ReadModels,
    /** Every read model and job metrics, one projection group of the whole log. */
    private readonly projections: ProjectionControl,
    private readonly metrics: MetricsRepository,
  ) {}

  /**
   * A run; while a run with a deadline or budget runs, with each running job's predicted end and
   * cost from its measured pace against its share (`limits.running`).
   */
  @OnCommand('getRun')
  async getRun(@Payload() req: { project: string; runId: string }): Promise<RunView> {
    const run = await this.findRun(req);
    if (run.limits === undefined || run.status !== 'running') return run;
    const running: NonNullable<RunLimitsView['running']> = [];
    for (const entry of run.jobs) {
      if (entry.status !== 'running') continue;
      const job = await this.readModels.find<JobView>('jobs', req.project, entry.id);
      if (job !== undefined && job.status === 'running') running.push(await this.againstShare(job));
    }
    return running.length === 0 ? run : { ...run, limits: { ...run.limits, running } };
  }

  /** A running job's predicted end and cost against its share, from its history and metrics. */
  private async againstShare(job: JobView): Promise<NonNullable<RunLimitsView['running']>[number]> {
    const doc = await this.readModels.find<JobHistoryDoc>('job-history', job.project, job.id);
    let price: number | null = null;
    let configuration: string | null = null;
    let finishBy: string | null = null;
    let maxCost: number | null = null;
    let spent = 0;
    let rescales = 0;
    let startedAt: string | null = null;
    let virtual = false;
    for (const entry of doc?.entries ?? []) {
      const data = entry.data as {
        offer?: { name: string; pricePerHour: number } | null;
        share?: { finishBy?: string | null; maxCost: number | null } | null;
        durationMs?: number | null;
        attempt?: number | null;
      };
      switch (entry.type) {
        case 'job.provisioned':
          price = data.offer?.pricePerHour ?? null;
          configuration = data.offer?.name ?? null;
          finishBy = data.share?.finishBy ?? finishBy;
          maxCost = data.share?.maxCost ?? maxCost;
          break;
        case 'job.started':
          if (data.attempt === job.attempt) {
            startedAt = entry.time;
            // Started by a clock ahead of the log's (a simulated node's, virtual): its predicted
            // finish is in that clock, and cannot be held against a wall-clock deadline.
            const at = (entry.data as { at?: string }).at;
            virtual = at !== undefined && Date.parse(at) - Date.parse(entry.time) > 5_000;
          }
          break;
        case 'job.rescale_requested':
          rescales += 1;
          break;
        case 'job.rescaled':
        case 'job.retry_scheduled':
          spent += ((data.durationMs ?? 0) / 3_600_000) * (price ?? 0);
          break;
        default:
          break;
      }
    }
    const progress = await this.progressOf(job, doc);
    const finish = progress?.predictedFinish ?? null;
    const predictedCost =
      finish === null || price === null || startedAt === null
        ? null
        : spent + ((Date.parse(finish) - Date.parse(startedAt)) / 3_600_000) * price;
    return {
      jobId: job.id,
      name: job.name,
      configuration,
      step: progress?.step ?? null,
      totalSteps: progress?.totalSteps ?? null,
      predictedFinish: finish,
      finishBy,
      predictedCost,
      maxCost,
      late:
        finish === null || finishBy === null || virtual
          ? null
          : Date.parse(finish) > Date.parse(finishBy),
      rescales,
    };
  }

  private findRun(req: { project: string; runId: string }): Promise<RunView> {
    return findRun(this.readModels, this.projections, req.project, req.runId);
  }

  /**
   * A run's sweeps and every trial of them; a run of this project without sweeps has none (an
   * empty list), one of another project is not found.
   */
  @OnCommand('getRunTrials')
  async getRunTrials(@Payload() req: { project: string; runId: string }): Promise<RunTrialsView> {
    await this.findRun(req);
    const doc = await this.readModels.find<RunTrialsDoc>('run-trials', req.project, req.runId);
    return { runId: req.runId, sweeps: doc?.sweeps ?? [] };
  }

  @OnCommand('listRuns')
  listRuns(
    @Payload() req: { project: string; limit: number; cursor: string | null },
  ): Promise<Page<RunView>> {
    return this.readModels.list<RunView>('runs', req.project, req.limit, req.cursor);
  }

  /** A job; while it runs, with how far it is and when it should end (`progress`). */
  @OnCommand('getJob')
  async getJob(@Payload() req: { project: string; jobId: string }): Promise<JobView> {
    const job = await this.findJob(req);
    return job.status === 'running' ? { ...job, progress: await this.progressOf(job) } : job;
  }

  private findJob(req: { project: string; jobId: string }): Promise<JobView> {
    return findJob(this.readModels, this.projections, req.project, req.jobId);
  }

  /**
   * From the running attempt's metrics, its start and the checkpoint it resumed from (in the job's
   * history, read here unless the caller read it already).
   */
  private async progressOf(job: JobView, history?: JobHistoryDoc): Promise<JobView['progress']> {
    const doc =
      history ?? (await this.readModels.find<JobHistoryDoc>('job-history', job.project, job.id));
    let startedAt: string | undefined;
    let resumedAfterStep = 0;
    let checkpointStep = 0;
    for (const entry of doc?.entries ?? []) {
      if (entry.type === 'job.checkpointed') {
        checkpointStep = (entry.data as { step: number | null }).step ?? checkpointStep;
      }
      if (
        entry.type === 'job.started' &&
        (entry.data as { attempt: number }).attempt === job.attempt
      ) {
        startedAt = entry.time;
        resumedAfterStep = checkpointStep;
      }
    }
    if (startedAt === undefined) return null;
    const series = await this.metrics.series(job.project, job.id, null);
    const points = Object.entries(series).flatMap(([name, samples]) =>
      samples.map((sample) => ({ name, ...sample })),
    );
    return estimateProgress({ points, attempt: job.attempt, startedAt, resumedAfterStep });
  }

  @OnCommand('getJobHistory')
  async getJobHistory(@Payload() req: { project: string; jobId: string }): Promise<HistoryEntry[]> {
    // A job that exists but has no event of its own yet (still pending) has an empty history.
    await this.findJob(req);
    const doc = await this.readModels.find<JobHistoryDoc>('job-history', req.project, req.jobId);
    return doc?.entries ?? [];
  }

  @OnCommand('getJobMetrics')
  async getJobMetrics(@Payload() req: { project: string; jobId: string; name: string | null }) {
    await this.findJob(req);
    return { series: await this.metrics.series(req.project, req.jobId, req.name) };
  }

  /** Starts a replay beside the live read model; answers at once with its progress. */
  @OnCommand('replayProjection')
  async replay(@Payload() req: { projection: string }) {
    this.known(req.projection);
    return this.projections.beginReplay(req.projection);
  }

  @OnCommand('getProjection')
  async getProjection(@Payload() req: { projection: string }) {
    this.known(req.projection);
    return {
      projection: req.projection,
      lastSeq: await this.projections.checkpoint(req.projection),
      replay: await this.projections.replayStatus(req.projection),
    };
  }

  private known(projection: string): void {
    const { names } = this.projections;
    if (!names.includes(projection)) {
      throw new AcaiError(
        RunProblems.PROJECTION_NOT_FOUND,
        `No projection '${projection}'; known: ${names.join(', ')}`,
      );
    }
  }
}
