import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import {
  AcaiError,
  LINEAGE_MAX_DEPTH,
  LineageProblems,
  type CommandPayload,
  type CommandResult,
  type LineageNode,
} from '@acai/contracts';
import { OnCommand, ProjectionControl } from '@acai/eventing';
import { readFresh } from '../history/fresh.js';
import { jobNodeId, versionNodeId } from './lineage.changes.js';
import { decodeCursor, encodeCursor } from './lineage.cursor.js';
import { LineageRepository } from './lineage.repository.js';

/** Answers lineage and impact questions from the `lineage` projection, always within one project. */
@Controller()
export class LineageHandler {
  constructor(
    private readonly lineage: LineageRepository,
    private readonly projections: ProjectionControl,
  ) {}

  @OnCommand('getLineage')
  async getLineage(
    @Payload() req: CommandPayload<'getLineage'>,
  ): Promise<CommandResult<'getLineage'>> {
    const after = req.cursor === null ? null : decodeCursor(req.cursor);
    const id =
      'jobId' in req.start
        ? jobNodeId(req.start.jobId)
        : versionNodeId(req.start.fileset, req.start.version);
    const start = await this.start(req.project, id);
    const page = await this.lineage.walk(
      req.project,
      id,
      req.direction,
      req.depth,
      req.limit,
      after,
    );
    return {
      start,
      direction: req.direction,
      depth: req.depth,
      items: page.items,
      edges: page.edges,
      nextCursor: page.next === null ? null : encodeCursor(page.next),
    };
  }

  @OnCommand('getImpact')
  async getImpact(
    @Payload() req: CommandPayload<'getImpact'>,
  ): Promise<CommandResult<'getImpact'>> {
    const after = req.cursor === null ? null : decodeCursor(req.cursor);
    const id = versionNodeId(req.fileset, req.version);
    const start = await this.start(req.project, id);
    const page = await this.lineage.impact(req.project, id, LINEAGE_MAX_DEPTH, req.limit, after);
    return {
      start,
      jobs: page.jobs,
      versions: page.versions,
      items: page.items,
      nextCursor: page.next === null ? null : encodeCursor(page.next),
    };
  }

  /**
   * The start of a walk. Read-your-writes: a version committed or a job queued a moment ago may not
   * be projected yet, so before answering "not found" wait briefly for the projection and look again.
   */
  private async start(project: string, id: string): Promise<LineageNode> {
    const found = await readFresh(this.projections, () => this.lineage.node(project, id));
    if (found === undefined) {
      const what = id.startsWith('job:')
        ? `job '${id.slice('job:'.length)}'`
        : `file set version '${id.slice('version:'.length)}'`;
      throw new AcaiError(
        LineageProblems.LINEAGE_START_NOT_FOUND,
        `No ${what} in the lineage of this project: it was never committed or queued here`,
      );
    }
    return found;
  }
}
