import { beforeEach, describe, expect, it } from '@jest/globals';
import { RunProblems, type Page, type RunTimelineView, type RunView } from '@acai/contracts';
import { ProjectionControl } from '@acai/eventing';
import { ReadModels } from '../history/read-models.repository.js';
import { TimelineHandler } from './timeline.handler.js';
import { TimelineRepository } from './timeline.repository.js';

const now = '2026-12-01T10:00:00.000Z';
const run: RunView = {
  id: 'run-1',
  project: 'p1',
  name: 'r',
  status: 'succeeded',
  createdAt: now,
  updatedAt: now,
  jobs: [],
};

/** The `runs` documents, by project and run id. */
class Runs extends ReadModels {
  readonly docs = new Map<string, RunView>();
  async find<T>(projection: string, project: string, key: string): Promise<T | undefined> {
    return projection === 'runs'
      ? (this.docs.get(`${project}/${key}`) as T | undefined)
      : undefined;
  }
  async list<T>(): Promise<Page<T>> {
    return { items: [], nextCursor: null };
  }
}

/** Projections that catch up on demand: `pending` runs are projected when asked to catch up. */
class Projections extends ProjectionControl {
  readonly names = ['runs', 'run-timeline'];
  pending: (() => void)[] = [];
  async catchUp(): Promise<boolean> {
    for (const apply of this.pending.splice(0)) apply();
    return true;
  }
  async waitFor(): Promise<void> {}
  replay(): never {
    throw new Error('not in this test');
  }
  beginReplay(): never {
    throw new Error('not in this test');
  }
  async replayStatus(): Promise<null> {
    return null;
  }
  async checkpoint(): Promise<number> {
    return 0;
  }
}

/** One timeline entry for every (project, run), answering which it was asked for. */
class Timelines extends TimelineRepository {
  async page(project: string, runId: string, after: number, limit: number) {
    return {
      items: [
        {
          seq: after + 1,
          time: now,
          type: 'run.submitted',
          jobId: null,
          step: null,
          trial: null,
          attempt: null,
          summary: `${project}/${runId} limit ${limit}`,
          data: {},
        },
      ],
      next: null,
    };
  }
}

describe('provenance’s run timelines', () => {
  let runs: Runs;
  let projections: Projections;
  let handler: TimelineHandler;

  beforeEach(() => {
    runs = new Runs();
    projections = new Projections();
    handler = new TimelineHandler(runs, projections, new Timelines());
  });

  it('answers a page of the run’s timeline in its project', async () => {
    runs.docs.set('p1/run-1', run);
    const page: RunTimelineView = await handler.getRunTimeline({
      project: 'p1',
      runId: 'run-1',
      after: 4,
      limit: 2,
    });
    expect(page).toMatchObject({
      runId: 'run-1',
      items: [{ seq: 5, summary: 'p1/run-1 limit 2' }],
      next: null,
    });
  });

  it('answers 404 for another project’s run, and for one that does not exist', async () => {
    runs.docs.set('p1/run-1', run);
    const request = { runId: 'run-1', after: 0, limit: 100 };
    await expect(handler.getRunTimeline({ ...request, project: 'p2' })).rejects.toMatchObject({
      reason: RunProblems.RUN_NOT_FOUND.reason,
      message: "No run 'run-1' in this project",
    });
    await expect(
      handler.getRunTimeline({ ...request, project: 'p1', runId: 'run-2' }),
    ).rejects.toMatchObject({ reason: RunProblems.RUN_NOT_FOUND.reason });
  });

  it('reads its writes: a run projected a moment after it was asked for is found', async () => {
    projections.pending.push(() => runs.docs.set('p1/run-1', run));
    const page = await handler.getRunTimeline({
      project: 'p1',
      runId: 'run-1',
      after: 0,
      limit: 1,
    });
    expect(page.items).toHaveLength(1);
  });
});
