import { beforeEach, describe, expect, it } from '@jest/globals';
import {
  RunProblems,
  type HistoryEntry,
  type JobView,
  type MetricSeries,
  type ReplayStatus,
  type Page,
  type RunView,
} from '@acai/contracts';
import { ProjectionControl } from '@acai/eventing';
import { MetricsRepository } from '../metrics/metrics.repository.js';
import { HistoryHandler } from './history.handler.js';
import { ReadModels } from './read-models.repository.js';

const now = '2026-12-01T10:00:00.000Z';

const run = (id: string): RunView => ({
  id,
  project: 'p1',
  name: 'r',
  status: 'running',
  createdAt: now,
  updatedAt: now,
  jobs: [],
});

const job = (id: string): JobView => ({
  id,
  project: 'p1',
  runId: 'run-1',
  name: 'train',
  status: 'queued',
  command: ['train'],
  attempt: 0,
  pool: null,
  exitCode: null,
  reason: null,
  message: null,
  checkpoint: null,
  createdAt: now,
  updatedAt: now,
});

/** Read models in memory: documents by projection, project and key. */
class MemoryReadModels extends ReadModels {
  readonly docs = new Map<string, unknown>();
  put(projection: string, project: string, key: string, doc: unknown): void {
    this.docs.set(`${projection}/${project}/${key}`, doc);
  }
  async find<T>(projection: string, project: string, key: string): Promise<T | undefined> {
    return this.docs.get(`${projection}/${project}/${key}`) as T | undefined;
  }
  async list<T>(projection: string, project: string): Promise<Page<T>> {
    const items = [...this.docs]
      .filter(([k]) => k.startsWith(`${projection}/${project}/`))
      .map(([, d]) => d as T);
    return { items, nextCursor: null };
  }
}

/** Projections that catch up on demand: `pending` documents appear when asked to catch up. */
class Projections extends ProjectionControl {
  readonly names = ['runs', 'jobs', 'job-history', 'job-metrics'];
  pending: (() => void)[] = [];
  replayed: string[] = [];
  async catchUp(): Promise<boolean> {
    for (const apply of this.pending.splice(0)) apply();
    return true;
  }
  async waitFor(): Promise<void> {}
  async replay(name?: string) {
    this.replayed.push(name ?? '');
    return { projection: name ?? '', lastSeq: 9, documents: 3 };
  }
  async beginReplay(name?: string): Promise<ReplayStatus> {
    this.replayed.push(name ?? '');
    return {
      projection: name ?? '',
      status: 'running',
      done: 0,
      total: 9,
      startedAt: now,
      finishedAt: null,
      documents: null,
      error: null,
    };
  }
  async replayStatus(): Promise<null> {
    return null;
  }
  async checkpoint(): Promise<number> {
    return 9;
  }
}

class Metrics extends MetricsRepository {
  all: MetricSeries['series'] = { loss: [{ step: 1, value: 0.5, time: now, attempt: 1 }] };
  async series(_p: string, _j: string, name: string | null): Promise<MetricSeries['series']> {
    return name === null ? this.all : name in this.all ? { [name]: this.all[name]! } : {};
  }
}

/** Provenance's answers, from its read models, with every collaborator in memory. */
describe('provenance’s history', () => {
  let models: MemoryReadModels;
  let projections: Projections;
  let metrics: Metrics;
  let handler: HistoryHandler;

  beforeEach(() => {
    models = new MemoryReadModels();
    projections = new Projections();
    metrics = new Metrics();
    handler = new HistoryHandler(models, projections, metrics);
  });

  it('reads its writes: a run projected a moment after it was asked for is found', async () => {
    projections.pending.push(() => models.put('runs', 'p1', 'run-1', run('run-1')));
    expect(await handler.getRun({ project: 'p1', runId: 'run-1' })).toMatchObject({ id: 'run-1' });
  });

  it('answers 404 for another project’s run, and for one that does not exist', async () => {
    models.put('runs', 'p1', 'run-1', run('run-1'));
    await expect(handler.getRun({ project: 'p2', runId: 'run-1' })).rejects.toMatchObject({
      reason: RunProblems.RUN_NOT_FOUND.reason,
      message: "No run 'run-1' in this project",
    });
    await expect(handler.getRun({ project: 'p1', runId: 'run-2' })).rejects.toMatchObject({
      reason: RunProblems.RUN_NOT_FOUND.reason,
    });
  });

  it('gives an empty history for a job that exists but has no event of its own yet', async () => {
    models.put('jobs', 'p1', 'job-1', job('job-1'));
    expect(await handler.getJobHistory({ project: 'p1', jobId: 'job-1' })).toEqual([]);
    const entries: HistoryEntry[] = [
      { seq: 3, type: 'job.queued', version: 1, time: now, data: {} },
    ];
    models.put('job-history', 'p1', 'job-1', { entries });
    expect(await handler.getJobHistory({ project: 'p1', jobId: 'job-1' })).toEqual(entries);
  });

  it('answers metrics only for a job of the caller’s project', async () => {
    models.put('jobs', 'p1', 'job-1', job('job-1'));
    expect(await handler.getJobMetrics({ project: 'p1', jobId: 'job-1', name: 'loss' })).toEqual({
      series: { loss: [{ step: 1, value: 0.5, time: now, attempt: 1 }] },
    });
    await expect(
      handler.getJobMetrics({ project: 'p2', jobId: 'job-1', name: null }),
    ).rejects.toMatchObject({ reason: RunProblems.JOB_NOT_FOUND.reason });
  });

  it('says how far a running job is and when it should end, from its attempt’s metrics', async () => {
    const t = (s: number) => new Date(Date.parse(now) + s * 1000).toISOString();
    models.put('jobs', 'p1', 'job-1', { ...job('job-1'), status: 'running', attempt: 2 });
    models.put('job-history', 'p1', 'job-1', {
      entries: [
        { seq: 5, type: 'job.started', version: 1, time: t(0), data: { attempt: 1 } },
        { seq: 6, type: 'job.checkpointed', version: 1, time: t(10), data: { step: 2 } },
        { seq: 7, type: 'job.started', version: 1, time: t(20), data: { attempt: 2 } },
      ],
    });
    const epoch = (step: number, s: number, attempt: number) => ({
      step,
      value: 5,
      time: t(s),
      attempt,
    });
    // Attempt 1 reached step 2 (and a step 3 it did not checkpoint); attempt 2 resumed after
    // step 2 and reached step 4 in 10 s: a step every 5 s, one left.
    metrics.all = {
      steps_total: [epoch(1, 4, 1), epoch(2, 8, 1), epoch(3, 12, 1), epoch(4, 30, 2)],
    };
    expect((await handler.getJob({ project: 'p1', jobId: 'job-1' })).progress).toMatchObject({
      step: 4,
      totalSteps: 5,
      fraction: 0.8,
      stepsPerSecond: 0.2,
      predictedFinish: t(35),
    });
    // A job not running has none.
    models.put('jobs', 'p1', 'job-2', job('job-2'));
    expect((await handler.getJob({ project: 'p1', jobId: 'job-2' })).progress).toBeUndefined();
  });

  it('shows each running job of a run with limits against its share, late or not', async () => {
    const t = (s: number) => new Date(Date.parse(now) + s * 1000).toISOString();
    const limits = {
      deadline: t(100),
      budget: null,
      spent: 0,
      predictedFinish: null,
      predictedCost: null,
      budgetExhausted: null,
    };
    models.put('runs', 'p1', 'run-1', {
      ...run('run-1'),
      limits,
      jobs: [{ id: 'job-1', name: 'train', status: 'running' }],
    });
    models.put('jobs', 'p1', 'job-1', { ...job('job-1'), status: 'running', attempt: 1 });
    const placed = {
      seq: 4,
      type: 'job.provisioned',
      version: 1,
      time: t(0),
      data: {
        offer: { name: 'local-1cpu-1024mb', pricePerHour: 0.036 },
        share: { maxCost: null, finishBy: t(30) },
      },
    };
    const started = (at: string) => ({
      seq: 5,
      type: 'job.started',
      version: 1,
      time: t(0),
      data: { attempt: 1, at },
    });
    models.put('job-history', 'p1', 'job-1', { entries: [placed, started(t(0))] });
    // Steps 1 and 2 of 5 at 10 and 20 s: it ends at 50 s, 20 s after its share's 30.
    const step = (n: number, s: number) => ({ step: n, value: 5, time: t(s), attempt: 1 });
    metrics.all = { steps_total: [step(1, 10), step(2, 20)] };
    const view = await handler.getRun({ project: 'p1', runId: 'run-1' });
    expect(view.limits?.running).toEqual([
      {
        jobId: 'job-1',
        name: 'train',
        configuration: 'local-1cpu-1024mb',
        step: 2,
        totalSteps: 5,
        predictedFinish: t(50),
        finishBy: t(30),
        predictedCost: expect.closeTo(0.0005, 8),
        maxCost: null,
        late: true,
        rescales: 0,
      },
    ]);
    // Started by a virtual clock a day ahead (a simulated node): not held against the deadline.
    models.put('job-history', 'p1', 'job-1', { entries: [placed, started(t(86_400))] });
    const simulated = await handler.getRun({ project: 'p1', runId: 'run-1' });
    expect(simulated.limits?.running?.[0]?.late).toBeNull();
  });

  it('replays a projection it has, and names the ones it has when asked for another', async () => {
    expect(await handler.replay({ projection: 'jobs' })).toMatchObject({
      projection: 'jobs',
      status: 'running',
    });
    expect(await handler.getProjection({ projection: 'jobs' })).toEqual({
      projection: 'jobs',
      lastSeq: 9,
      replay: null,
    });
    await expect(handler.replay({ projection: 'lineage' })).rejects.toMatchObject({
      reason: RunProblems.PROJECTION_NOT_FOUND.reason,
      message: "No projection 'lineage'; known: runs, jobs, job-history, job-metrics",
    });
    expect(projections.replayed).toEqual(['jobs']);
  });
});
