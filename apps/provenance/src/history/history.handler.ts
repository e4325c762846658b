import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import {
  AcaiError,
  ErrorCode,
  type HistoryEntry,
  type JobView,
  type Page,
  type RunView,
} from '@acai/contracts';
import { OnCommand, ProjectionControl } from '@acai/eventing';
import type { JobHistoryDoc } from '@acai/runs';
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
    return this.fresh(() => this.readModels.get<RunView>('runs', req.project, req.runId, 'run'));
  }

  @OnCommand('listRuns')
  listRuns(
    @Payload() req: { project: string; limit: number; cursor: string | null },
  ): Promise<Page<RunView>> {
    return this.readModels.list<RunView>('runs', req.project, req.limit, req.cursor);
  }

  @OnCommand('getJob')
  getJob(@Payload() req: { project: string; jobId: string }): Promise<JobView> {
    return this.fresh(() => this.readModels.get<JobView>('jobs', req.project, req.jobId, 'job'));
  }

  @OnCommand('getJobHistory')
  async getJobHistory(@Payload() req: { project: string; jobId: string }): Promise<HistoryEntry[]> {
    // A job that exists but has no event of its own yet (still pending) has an empty history.
    await this.getJob(req);
    try {
      const doc = await this.readModels.get<JobHistoryDoc>(
        'job-history',
        req.project,
        req.jobId,
        'job',
      );
      return doc.entries;
    } catch (error) {
      if (error instanceof AcaiError && error.code === ErrorCode.NotFound) return [];
      throw error;
    }
  }

  /**
   * Read-your-writes: a run submitted a moment ago may not be projected yet. Before answering
   * "not found", wait briefly for the projection to catch up with the log and look again.
   */
  private async fresh<T>(read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (error) {
      if (!(error instanceof AcaiError) || error.code !== ErrorCode.NotFound) throw error;
      if (!(await this.projections.catchUp(3_000))) throw error;
      return read();
    }
  }

  @OnCommand('getJobMetrics')
  async getJobMetrics(@Payload() req: { project: string; jobId: string; name: string | null }) {
    await this.getJob(req);
    return { series: await this.metrics.series(req.project, req.jobId, req.name) };
  }

  @OnCommand('replayProjection')
  async replay(@Payload() req: { projection: string }) {
    const { names } = this.projections;
    if (!names.includes(req.projection)) {
      throw new AcaiError(
        ErrorCode.NotFound,
        `No projection '${req.projection}'; known: ${names.join(', ')}`,
      );
    }
    return this.projections.replay(req.projection);
  }
}
