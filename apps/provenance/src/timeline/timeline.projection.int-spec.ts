import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import type { DataSource } from 'typeorm';
import type { StoredEvent } from '@acai/contracts';
import { decodeEvent, type SqlProjection } from '@acai/eventing';
import { runTimelines } from '@acai/runs';
import { eventLog, migratedSchema, plannedJob, queuedJob } from '@acai/testkit';
import { ProvenanceRunTimeline1797000000000 } from './timeline.migration.js';
import { RunTimelineProjection } from './timeline.projection.js';
import { SqlTimelineRepository } from './timeline.repository.js';

let schema: string;
let db: DataSource;
let drop: () => Promise<void> = () => Promise.resolve();
let projection: RunTimelineProjection;
let timelines: SqlTimelineRepository;

beforeAll(async () => {
  ({ db, schema, drop } = await migratedSchema('it_timeline', [
    ProvenanceRunTimeline1797000000000,
  ]));
  projection = new RunTimelineProjection(schema);
  timelines = new SqlTimelineRepository(db, projection);
});

afterAll(async () => {
  await drop();
});

/**
 * A run of one step `train` in `project`: submitted, queued, placed, run, succeeded. Its events'
 * correlation id is another run's: a job's run is found from `run.submitted`, not from it.
 */
function oneStepRun(project: string, runId: string, jobId: string, firstSeq: number) {
  const e = eventLog({ firstSeq, project, correlationId: 'run-elsewhere' });
  return [
    e('run.submitted', runId, {
      name: 'one-step',
      jobs: [plannedJob(jobId, 'train')],
      submittedBy: null,
      origin: null,
    }),
    e('job.queued', jobId, queuedJob({ runId })),
    e('job.provisioned', jobId, {
      provider: 'local',
      pool: 'local',
      resources: { cpu: 1, memoryMb: 512 },
      reason: `as requested (1 CPU, 512 MB) on the local pool`,
      offer: null,
      decision: null,
    }),
    e('job.dispatched', jobId, { pool: 'local', attempt: 1 }),
    e('job.started', jobId, { executor: 'node-a', attempt: 1, pid: 7 }),
    e('job.metrics_reported', jobId, {
      attempt: 1,
      points: [{ name: 'loss', value: 0.1, step: 1, time: '2026-11-20T09:00:05Z' }],
    }),
    e('job.succeeded', jobId, { exitCode: 0, durationMs: 1200, outputs: [], attempt: 1 }),
    e('run.job_settled', runId, { jobId, name: 'train', outcome: 'succeeded' }),
    e('run.succeeded', runId, {}),
  ];
}

const apply = (p: SqlProjection, events: readonly StoredEvent[]) =>
  db.transaction((m) => p.apply(m, events));

describe('the run-timeline projection', () => {
  it('lists a run’s events and its jobs’ in log order, a job’s run found in an earlier batch', async () => {
    const log = oneStepRun('alpha', 'run-a', 'job-a', 1000);
    // The job's later events come in another transaction: its run is read back from the table.
    await apply(projection, log.slice(0, 2));
    await apply(projection, log.slice(2));

    const page = await timelines.page('alpha', 'run-a', 0, 100);
    expect(page.items.map((i) => [i.type, i.jobId, i.step, i.attempt])).toEqual([
      ['run.submitted', null, null, null],
      ['job.queued', 'job-a', 'train', null],
      ['job.provisioned', 'job-a', 'train', null],
      ['job.dispatched', 'job-a', 'train', 1],
      ['job.started', 'job-a', 'train', 1],
      ['job.succeeded', 'job-a', 'train', 1],
      ['run.job_settled', 'job-a', 'train', null],
      ['run.succeeded', null, null, null],
    ]);
    expect(page.items[2]).toMatchObject({
      summary:
        "'train' provisioned on local pool local (1 CPU, 512 MB): as requested (1 CPU, 512 MB) on the local pool",
      data: { reason: 'as requested (1 CPU, 512 MB) on the local pool', pool: 'local' },
      time: log[2]!.occurredAt,
    });
    expect(page.next).toBeNull();
  });

  it('stores an event applied twice once', async () => {
    const log = oneStepRun('alpha', 'run-twice', 'job-twice', 2000);
    await apply(projection, log);
    await apply(projection, log);
    await apply(projection, log.slice(3, 5));

    const page = await timelines.page('alpha', 'run-twice', 0, 100);
    expect(page.items).toHaveLength(8);
    expect(new Set(page.items.map((i) => i.seq)).size).toBe(8);
  });

  it('pages by log position: `next` is the `after` of the next page, null on the last', async () => {
    const first = await timelines.page('alpha', 'run-a', 0, 3);
    expect(first.items.map((i) => i.type)).toEqual([
      'run.submitted',
      'job.queued',
      'job.provisioned',
    ]);
    expect(first.next).toBe(first.items[2]!.seq);
    const second = await timelines.page('alpha', 'run-a', first.next!, 3);
    expect(second.items.map((i) => i.type)).toEqual([
      'job.dispatched',
      'job.started',
      'job.succeeded',
    ]);
    const last = await timelines.page('alpha', 'run-a', second.next!, 3);
    expect(last.items.map((i) => i.type)).toEqual(['run.job_settled', 'run.succeeded']);
    expect(last.next).toBeNull();
  });

  it('keeps projects apart: the same ids in another project are another timeline', async () => {
    await apply(projection, oneStepRun('beta', 'run-b', 'job-b', 3000));

    expect((await timelines.page('beta', 'run-a', 0, 100)).items).toEqual([]);
    expect((await timelines.page('alpha', 'run-b', 0, 100)).items).toEqual([]);
    expect((await timelines.page('beta', 'run-b', 0, 100)).items).toHaveLength(8);
  });

  it('is rebuilt by a replay beside the live tables, and swapped in', async () => {
    const replica = projection.replica();
    await db.transaction((m) => replica.reset(m));
    // The replay has read only run-a so far: the live tables still answer with everything.
    await apply(replica, oneStepRun('alpha', 'run-a', 'job-a', 1000));
    expect((await timelines.page('beta', 'run-b', 0, 100)).items).toHaveLength(8);
    expect(await db.transaction((m) => replica.count(m))).toBe(8);

    await db.transaction((m) => replica.promote(m));
    expect((await timelines.page('alpha', 'run-a', 0, 100)).items).toHaveLength(8);
    expect((await timelines.page('beta', 'run-b', 0, 100)).items).toEqual([]);
    const jobs = await db.query<{ job_id: string }[]>(
      `SELECT job_id FROM ${projection.jobsTable()}`,
    );
    expect(jobs.map((j) => j.job_id)).toEqual(['job-a']);
    // Its jobs came along: a later event of job-a still finds its run.
    const late = eventLog({ firstSeq: 5000, project: 'alpha', correlationId: 'run-elsewhere' });
    await apply(projection, [
      late('job.checkpointed', 'job-a', {
        fileset: 'checkpoints-job-a',
        version: 1,
        step: 3,
        attempt: 1,
      }),
    ]);
    expect((await timelines.page('alpha', 'run-a', 0, 100)).items.at(-1)).toMatchObject({
      type: 'job.checkpointed',
      step: 'train',
    });
  });

  it('holds a golden log’s timeline as the pure fold makes it (run-resumed)', async () => {
    const log = readGolden('run-resumed');
    await apply(projection, log);
    const runId = log[0]!.aggregateId;

    const page = await timelines.page(log[0]!.project, runId, 0, 1000);
    const expected = runTimelines(log).get(runId) ?? [];
    expect(page.items).toEqual(expected.map(({ runId: _runId, ...entry }) => entry));
    expect(page.items.map((i) => i.type)).toEqual([
      'run.submitted',
      'job.queued',
      'job.provisioned',
      'job.dispatched',
      'job.started',
      'job.checkpointed',
      'job.checkpointed',
      'job.started',
      'job.checkpointed',
      'job.succeeded',
      'run.job_settled',
      'run.succeeded',
    ]);
  });
});

function readGolden(name: string): StoredEvent[] {
  const dir = path.resolve(import.meta.dirname, '../../../../test/fixtures/golden');
  const encoder = new TextEncoder();
  return fs
    .readFileSync(path.join(dir, `${name}.events.jsonl`), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const { position, ...envelope } = JSON.parse(line) as { position: StoredEvent['position'] };
      return decodeEvent(encoder.encode(JSON.stringify(envelope)), position);
    });
}
