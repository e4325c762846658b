import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import {
  AcaiError,
  RunProblems,
  type HistoryEntry,
  type JobView,
  type Page,
  type RunTrialsView,
  type RunView,
} from '@acai/contracts';
import { OnCommand, ProjectionControl } from '@acai/eventing';
import type { JobHistoryDoc, RunTrialsDoc } from '@acai/runs';
import { MetricsRepository } from '../metrics/metrics.repository.js';
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

  @OnCommand('getRun')
  getRun(@Payload() req: { project: string; runId: string }): Promise<RunView> {
    return this.fresh(
      () => this.readModels.find<RunView>('runs', req.project, req.runId),
      () => new AcaiError(RunProblems.RUN_NOT_FOUND, `No run '${req.runId}' in this project`),
    );
  }

  /**
   * A run's sweeps and every trial of them; a run of this project without sweeps has none (an
   * empty list), one of another project is not found.
   */
  @OnCommand('getRunTrials')
  async getRunTrials(@Payload() req: { project: string; runId: string }): Promise<RunTrialsView> {
    await this.getRun(req);
    const doc = await this.readModels.find<RunTrialsDoc>('run-trials', req.project, req.runId);
    return { runId: req.runId, sweeps: doc?.sweeps ?? [] };
  }

  @OnCommand('listRuns')
  listRuns(
    @Payload() req: { project: string; limit: number; cursor: string | null },
  ): Promise<Page<RunView>> {
    return this.readModels.list<RunView>('runs', req.project, req.limit, req.cursor);
  }

  @OnCommand('getJob')
  getJob(@Payload() req: { project: string; jobId: string }): Promise<JobView> {
    return this.fresh(
      () => this.readModels.find<JobView>('jobs', req.project, req.jobId),
      () => new AcaiError(RunProblems.JOB_NOT_FOUND, `No job '${req.jobId}' in this project`),
    );
  }

  @OnCommand('getJobHistory')
  async getJobHistory(@Payload() req: { project: string; jobId: string }): Promise<HistoryEntry[]> {
    // A job that exists but has no event of its own yet (still pending) has an empty history.
    await this.getJob(req);
    const doc = await this.readModels.find<JobHistoryDoc>('job-history', req.project, req.jobId);
    return doc?.entries ?? [];
  }

  /**
   * Read-your-writes: a run submitted a moment ago may not be projected yet. Before answering
   * "not found", wait briefly for the projection to catch up with the log and look again.
   */
  private async fresh<T>(read: () => Promise<T | undefined>, missing: () => AcaiError): Promise<T> {
    const found =
      (await read()) ?? ((await this.projections.catchUp(3_000)) ? await read() : undefined);
    if (found === undefined) throw missing();
    return found;
  }

  @OnCommand('getJobMetrics')
  async getJobMetrics(@Payload() req: { project: string; jobId: string; name: string | null }) {
    await this.getJob(req);
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
