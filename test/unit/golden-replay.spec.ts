import { describe, it, expect } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import {
  defaultTopology,
  fold,
  subjects,
  type NewEvent,
  type Projection,
  type StoredEvent,
} from '@acai/contracts';
import { decodeEvent } from '@acai/eventing';
import {
  activeAttemptsProjection,
  dispatchQueueProjection,
  jobDecider,
  jobHistoryProjection,
  jobsProjection,
  runDecider,
  runsProjection,
  runTimelines,
  trialsProjection,
  type ActiveAttempt,
} from '@acai/runs';

// Golden event logs: recorded runs replayed through the read models. A change to a projection that
// changes what users see for an existing log fails here. See test/fixtures/golden/README.md.
const goldenDir = path.resolve(import.meta.dirname, '../fixtures/golden');
const fixtures = fs
  .readdirSync(goldenDir)
  .filter((f) => f.endsWith('.events.jsonl'))
  .sort()
  .map((f) => f.slice(0, -'.events.jsonl'.length));

// `active-attempts` is the scheduler's watchdog's, `dispatch-queue` its dispatcher's: a log whose
// jobs have all ended leaves them empty.
const projections = [
  runsProjection,
  jobsProjection,
  jobHistoryProjection,
  activeAttemptsProjection,
  dispatchQueueProjection,
  trialsProjection,
] as Projection<unknown>[];

/** Reads a log the way the projection runner does: each line decoded and validated at its position. */
function readLog(name: string): StoredEvent[] {
  const text = fs.readFileSync(path.join(goldenDir, `${name}.events.jsonl`), 'utf8');
  const encoder = new TextEncoder();
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const { position, ...envelope } = JSON.parse(line) as { position: StoredEvent['position'] };
      return decodeEvent(encoder.encode(JSON.stringify(envelope)), position);
    });
}

/** Folds the log into each projection's documents: keys, then evolve per key; undefined deletes. */
function replay(events: StoredEvent[]): Record<string, Record<string, unknown>> {
  const result: Record<string, Record<string, unknown>> = {};
  for (const projection of projections) {
    const docs = new Map<string, unknown>();
    for (const event of events) {
      for (const key of projection.keys(event)) {
        const next = projection.evolve(docs.get(key), event, key);
        if (next === undefined) docs.delete(key);
        else docs.set(key, next);
      }
    }
    result[projection.name] = Object.fromEntries(docs);
  }
  return result;
}

const asNew = ({ type, data }: StoredEvent) => ({ type, data }) as NewEvent;

it('has golden logs to replay', () => {
  expect(fixtures).toEqual(
    expect.arrayContaining(['run-cancelled', 'run-executor-lost', 'run-two-steps']),
  );
});

it('holds a placed job of an old log as waiting, priority 0 and no limit, until it is dispatched (run-two-steps)', () => {
  const events = readLog('run-two-steps');
  const placed = events.findIndex((e) => e.type === 'job.provisioned');
  const dispatched = events.findIndex((e) => e.type === 'job.dispatched');
  expect(placed).toBeGreaterThanOrEqual(0);
  const job = events[placed]!.aggregateId;
  expect(replay(events.slice(0, placed + 1))['dispatch-queue']).toEqual({
    [job]: expect.objectContaining({ state: 'waiting', priority: 0, maxParallel: null }),
  });
  expect(replay(events.slice(0, dispatched + 1))['dispatch-queue']).toEqual({
    [job]: expect.objectContaining({ state: 'out' }),
  });
});

it('fails a lost attempt as the watchdog and the job decider do (run-executor-lost)', () => {
  const events = readLog('run-executor-lost');
  const at = events.findIndex((e) => e.type === 'job.failed');
  const failed = events[at]!;
  if (failed.type !== 'job.failed') throw new Error('no job.failed in run-executor-lost');
  const before = events.slice(0, at);
  // The watchdog read the attempt from its read model, and named the start it lost as the cause.
  const watched = replay(before)['active-attempts']![failed.aggregateId] as ActiveAttempt;
  expect(failed.data).toMatchObject({ reason: 'executor_lost', attempt: watched.attempt });
  expect(failed.causationId).toBe(watched.startedBy);
  // The job decider, given the job's history, records exactly that failure, and no other attempt's.
  const job = fold(
    jobDecider,
    before.filter((e) => e.aggregateId === failed.aggregateId).map(asNew),
  );
  expect(jobDecider.decide({ kind: 'fail', data: failed.data }, job)).toEqual([asNew(failed)]);
  expect(
    jobDecider.decide(
      { kind: 'fail', data: { ...failed.data, attempt: watched.attempt - 1 } },
      job,
    ),
  ).toEqual([]);
});

it('tells the run’s timeline: every attempt and decision in order, in words (run-retried-skipped)', () => {
  const events = readLog('run-retried-skipped');
  const runId = events[0]!.aggregateId;
  const timelines = runTimelines(events);
  expect([...timelines.keys()]).toEqual([runId]);
  const asRequested =
    'local pool local (1 CPU, 512 MB): as requested: local slot of 1 CPU and 512 MiB';
  expect(timelines.get(runId)!.map((e) => [e.seq, e.step, e.attempt, e.summary])).toEqual([
    [57, null, null, "Run 'nightly' submitted: 3 jobs"],
    [58, 'fetch', null, "'fetch' queued"],
    [59, 'fetch', null, `'fetch' provisioned on ${asRequested}`],
    [60, 'fetch', 1, "'fetch' attempt 1 dispatched to pool local"],
    [61, 'fetch', 1, "'fetch' attempt 1 started on node-a"],
    [
      62,
      'fetch',
      1,
      "'fetch' attempt 1 failed (nonzero_exit): the process exited with code 1; see the last lines of its output; retry 1 in 5 s",
    ],
    [63, 'fetch', null, "'fetch' queued again for retry 1"],
    [64, 'fetch', null, `'fetch' provisioned on ${asRequested}`],
    [65, 'fetch', 2, "'fetch' attempt 2 dispatched to pool local"],
    [66, 'fetch', 2, "'fetch' attempt 2 started on node-b"],
    [67, 'fetch', 2, "'fetch' attempt 2 succeeded in 1.8 s, committing rows v4"],
    [68, 'fetch', null, "'fetch' settled: succeeded"],
    [69, 'train', null, "'train' queued"],
    [70, 'train', null, `'train' provisioned on ${asRequested}`],
    [71, 'train', 1, "'train' attempt 1 dispatched to pool local"],
    [72, 'train', 1, "'train' attempt 1 started on node-b"],
    [
      73,
      'train',
      1,
      "'train' attempt 1 failed (out_of_memory): the process was killed for using more than its 512 MiB of memory; ask for more with resources.memoryMb",
    ],
    [74, 'train', null, "'train' settled: failed"],
    [75, 'report', null, "'report' skipped: step 'train', which it needs, failed"],
    [76, 'report', null, "'report' settled: skipped"],
    [77, null, null, 'Run failed: step(s) failed: train'],
  ]);
  const retry = timelines.get(runId)!.find((e) => e.type === 'job.retry_scheduled');
  expect(retry?.data).toMatchObject({ reason: 'nonzero_exit', retry: 1, delayMs: 5000 });
});

it('tells a run that followed its reuse plan: the step left out ends after the one that read it (run-not-needed)', () => {
  const events = readLog('run-not-needed');
  const runId = events[0]!.aggregateId;
  expect(
    runTimelines(events)
      .get(runId)!
      .map((e) => [e.step, e.summary]),
  ).toEqual([
    [
      null,
      "Run 'etl-train' submitted: 2 jobs; reuse plan: 'etl' not needed (only steps that take earlier results read them); 'train' to take earlier results",
    ],
    [
      'train',
      "'train' reused the result of job job-01kbn9w2e5d2e4g6i8k0m2n, taking model v2 (saved 42 s)",
    ],
    ['train', "'train' settled: succeeded"],
    [
      'etl',
      "'etl' not needed: only steps that take earlier results read it ('train'), so it was neither run nor taken",
    ],
    ['etl', "'etl' settled: not needed"],
    [null, 'Run succeeded'],
  ]);
  // The run decider, given the log, ends the same: a step left out counts as success.
  const run = fold(runDecider, events.filter((e) => e.aggregate === 'run').map(asNew));
  expect(run.phase).toBe('succeeded');
  expect(run.outcomes).toEqual({
    [events[3]!.aggregateId]: 'not_needed',
    [events[1]!.aggregateId]: 'succeeded',
  });
});

describe.each(fixtures)('golden log %s', (name) => {
  const events = readLog(name);
  const runId = events[0]?.aggregateId;

  it('builds the expected documents of every projection', () => {
    const expected: unknown = JSON.parse(
      fs.readFileSync(path.join(goldenDir, `${name}.expected.json`), 'utf8'),
    );

    expect(replay(events)).toEqual(expected);
  });

  it('builds the same documents when replayed again from scratch', () => {
    const first = replay(readLog(name));
    const second = replay(readLog(name));

    expect(JSON.stringify(second)).toBe(JSON.stringify(first));
  });

  it('has a timeline of every event of the run but its metric reports, in log order', () => {
    const timeline = runTimelines(events).get(runId ?? '') ?? [];
    expect(timeline.map((e) => e.seq)).toEqual(
      events.filter((e) => e.type !== 'job.metrics_reported').map((e) => e.position.seq),
    );
    expect(timeline.every((e) => e.summary.length > 0)).toBe(true);
  });

  describe('is a log acai could have written', () => {
    it('starts with the run being submitted, and every event belongs to that run', () => {
      expect(events[0]?.type).toBe('run.submitted');
      expect(events.map((e) => e.correlationId)).toEqual(events.map(() => runId));
    });

    it('sits at increasing positions on each aggregate’s subject', () => {
      const seqs = events.map((e) => e.position.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(seqs).size).toBe(seqs.length);
      for (const e of events) {
        expect(e.position.stream).toBe(defaultTopology.streams.events);
        expect(e.position.subject).toBe(
          subjects.aggregate(defaultTopology, e.project, e.aggregate, e.aggregateId),
        );
      }
    });

    it('has unique event ids, and each cause comes before its effect', () => {
      const seen = new Set<string>();
      for (const e of events) {
        if (e.causationId !== null) expect(seen).toContain(e.causationId);
        expect(seen).not.toContain(e.id);
        seen.add(e.id);
      }
    });

    it('settles and concludes the run as the run decider does', () => {
      const runEvents = events.filter((e) => e.aggregate === 'run');
      const settlements = runEvents.flatMap((e, i) => (e.type === 'run.job_settled' ? [i] : []));
      expect(settlements.length).toBeGreaterThan(0);
      for (const i of settlements) {
        const settled = runEvents[i]!;
        if (settled.type !== 'run.job_settled') continue;
        const before = fold(runDecider, runEvents.slice(0, i).map(asNew));
        const decided = runDecider.decide(
          { kind: 'settle_job', jobId: settled.data.jobId, outcome: settled.data.outcome },
          before,
        );
        expect(runEvents.slice(i, i + decided.length).map(asNew)).toEqual(decided);
      }
      const last = runEvents.at(-1)!;
      expect(['run.succeeded', 'run.failed', 'run.cancelled']).toContain(last.type);
    });
  });
});
