import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { type CommandPayload, type RunTimelineView } from '@acai/contracts';
import { OnCommand, ProjectionControl } from '@acai/eventing';
import { findRun } from '../history/fresh.js';
import { ReadModels } from '../history/read-models.repository.js';
import { TimelineRepository } from './timeline.repository.js';

/** Answers for a run's timeline, from the `run-timeline` projection. */
@Controller()
export class TimelineHandler {
  constructor(
    private readonly readModels: ReadModels,
    private readonly projections: ProjectionControl,
    private readonly timelines: TimelineRepository,
  ) {}

  /**
   * A page of a run's timeline, in log order. A run of another project is not found, as one that
   * does not exist; one submitted a moment ago is waited for (up to 3 s) as `getRun` does.
   */
  @OnCommand('getRunTimeline')
  async getRunTimeline(@Payload() req: CommandPayload<'getRunTimeline'>): Promise<RunTimelineView> {
    await findRun(this.readModels, this.projections, req.project, req.runId);
    return {
      runId: req.runId,
      ...(await this.timelines.page(req.project, req.runId, req.after, req.limit)),
    };
  }
}
