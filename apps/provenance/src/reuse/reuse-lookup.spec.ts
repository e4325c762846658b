import { describe, expect, it } from '@jest/globals';
import {
  RunProblems,
  type JobSignature,
  type ReusableResult,
  type StoredEvent,
} from '@acai/contracts';
import { silentLogger } from '@acai/eventing';
import { eventLog, queuedJob } from '@acai/testkit';
import type { IndexedJob } from './results-index.js';
import {
  ReuseLookup,
  type IndexSnapshot,
  type ReuseLookupSource,
  type ReuseLookupState,
} from './reuse-lookup.js';

const sha = (c: string) => c.repeat(64);
const signature = (c: string): JobSignature => ({
  sha256: sha(c),
  parts: { argv: ['etl'], code: [], parameters: {}, secrets: {}, inputs: [], outputs: [] },
  complete: true,
  codeSha256: null,
});

/** One log for every project (positions are the stream's, shared by all), after `firstSeq`. */
function log(firstSeq = 0) {
  const e = eventLog({ project: 'p', firstSeq });
  return {
    queued: (job: string, c: string, project = 'p'): StoredEvent => ({
      ...e('job.queued', job, queuedJob({ name: 'etl', signature: signature(c) })),
      project,
    }),
    succeeded: (job: string, version: number, project = 'p'): StoredEvent => ({
      ...e('job.succeeded', job, {
        exitCode: 0,
        durationMs: 1_000,
        outputs: [{ fileset: 'data', version }],
        attempt: 1,
      }),
      project,
    }),
    shares: (project: string, withProjects: string[]): StoredEvent => ({
      ...e('project.reuse_sharing_changed', project, {
        with: withProjects,
        before: [],
        keyId: null,
      }),
      project,
    }),
  };
}

const row = (jobId: string, c: string, seq: number, project = 'p'): IndexedJob => ({
  project,
  jobId,
  runId: 'run-1',
  name: 'etl',
  signature: sha(c),
  status: 'succeeded',
  outputs: [{ fileset: 'data', version: 1 }],
  durationMs: 1_000,
  pricePerHour: null,
  reusedFrom: null,
  seq,
});

const result = (jobId: string): ReusableResult => ({
  jobId,
  runId: 'run-1',
  name: 'etl',
  outputs: [{ fileset: 'data', version: 1 }],
  durationMs: 1_000,
  pricePerHour: null,
  reusedFrom: null,
});

/** The tables, as the test sets them; it counts what it is asked. */
class Tables implements ReuseLookupSource {
  asked = 0;
  loads = 0;
  snapshotNow: IndexSnapshot = {
    signatures: { checkpoint: 0, jobs: [] },
    sharing: { checkpoint: 0, projects: [] },
  };
  answer: ReusableResult[] = [];

  snapshot(): Promise<IndexSnapshot> {
    this.loads++;
    return Promise.resolve(this.snapshotNow);
  }

  findResults(): Promise<ReusableResult[]> {
    this.asked++;
    return Promise.resolve(this.answer);
  }
}

/** Whether the projections have caught up with the log: the test says when. */
function gate() {
  let open = false;
  return {
    open: () => void (open = true),
    caughtUp: (ms: number) =>
      open
        ? Promise.resolve(true)
        : new Promise<boolean>((r) => setTimeout(() => r(open), ms / 1000)),
  };
}

/** Waits (as long as it takes) for the lookup's background work to reach `state`. */
async function until(lookup: ReuseLookup, state: ReuseLookupState): Promise<void> {
  while (lookup.state !== state) await new Promise((r) => setTimeout(r, 1));
}

async function readyLookup(tables = new Tables()) {
  const lookup = new ReuseLookup(silentLogger, 1);
  const caught = gate();
  caught.open();
  await lookup.start(tables, caught.caughtUp);
  await until(lookup, 'ready');
  return { lookup, tables };
}

const ids = (found: ReusableResult[][]) => found.map((rs) => rs.map((r) => r.jobId));
const ask = (lookup: ReuseLookup, c: string, project = 'p', exclude = 'job-new') =>
  lookup.findMany(project, [{ signature: sha(c), excludeJobId: exclude }], 5);

describe('the reuse lookup in memory', () => {
  it('asks the tables until it has loaded and caught up with the log, never answering "nothing" from behind', async () => {
    const tables = new Tables();
    // The table has job-a (applied); the log has more the runner has not applied yet.
    tables.snapshotNow = {
      signatures: { checkpoint: 5, jobs: [row('job-a', 'a', 3)] },
      sharing: { checkpoint: 5, projects: [] },
    };
    tables.answer = [result('job-b')];
    const lookup = new ReuseLookup(silentLogger, 1);
    const caught = gate();
    await lookup.start(tables, caught.caughtUp);

    expect(lookup.state).toBe('catching-up');
    expect(ids(await ask(lookup, 'b'))).toEqual([['job-b']]);
    expect(tables.asked).toBe(1);

    caught.open();
    await until(lookup, 'ready');
    // Now from memory: the tables are not asked again.
    expect(ids(await ask(lookup, 'a'))).toEqual([['job-a']]);
    expect(tables.asked).toBe(1);
    lookup.stop();
  });

  it('before it has started, asks the tables it falls back to, or says provenance is behind', async () => {
    const lookup = new ReuseLookup(silentLogger, 1);
    await expect(ask(lookup, 'a')).rejects.toMatchObject({
      reason: RunProblems.PROVENANCE_BEHIND.reason,
      retryable: true,
    });
    const tables = new Tables();
    tables.answer = [result('job-a')];
    lookup.fallBackTo(tables);
    expect(lookup.state).toBe('loading');
    expect(ids(await ask(lookup, 'a'))).toEqual([['job-a']]);
    expect(tables.asked).toBe(1);
  });

  it('keeps the batches committed while it loads, and applies those after the table it read', async () => {
    const l = log();
    const lookup = new ReuseLookup(silentLogger, 1);
    const tables = new Tables();
    const a = [l.queued('job-a', 'a'), l.succeeded('job-a', 1)];
    const b = [l.queued('job-b', 'b'), l.succeeded('job-b', 2)];
    // Committed before the table was read (in it already), and after.
    lookup.signatures.committed({ after: 0, through: 2, events: a });
    lookup.sharing.committed({ after: 0, through: 2, events: [] });
    lookup.signatures.committed({ after: 2, through: 4, events: b });
    lookup.sharing.committed({ after: 2, through: 4, events: [] });
    tables.snapshotNow = {
      signatures: { checkpoint: 2, jobs: [row('job-a', 'a', 1)] },
      sharing: { checkpoint: 2, projects: [] },
    };
    const caught = gate();
    caught.open();
    await lookup.start(tables, caught.caughtUp);
    await until(lookup, 'ready');
    expect(ids(await ask(lookup, 'a'))).toEqual([['job-a']]);
    expect(ids(await ask(lookup, 'b'))).toEqual([['job-b']]);
    expect(tables.asked).toBe(0);
    lookup.stop();
  });

  it('applies each event once: a batch redelivered, or overlapping the copy, changes nothing twice', async () => {
    const l = log();
    const { lookup } = await readyLookup();
    const first = [l.queued('job-a', 'a'), l.succeeded('job-a', 1)];
    lookup.signatures.committed({ after: 0, through: 2, events: first });
    lookup.signatures.committed({ after: 0, through: 2, events: first });
    const second = [l.queued('job-b', 'a'), l.succeeded('job-b', 2)];
    // Overlapping: from 1, while the copy is at 2 (only the events after 2 are new).
    lookup.signatures.committed({ after: 1, through: 4, events: [first[1]!, ...second] });
    expect(ids(await ask(lookup, 'a'))).toEqual([['job-b', 'job-a']]);
    expect(lookup.index.size).toEqual({ jobs: 2, results: 2, manifests: 0 });
    // Its own result is never its answer; lookups answer in order.
    expect(
      ids(
        await lookup.findMany(
          'p',
          [
            { signature: sha('a'), excludeJobId: 'job-b' },
            { signature: sha('z'), excludeJobId: 'x' },
          ],
          5,
        ),
      ),
    ).toEqual([['job-a'], []]);
    lookup.stop();
  });

  it('after a gap (events applied by another process), asks the tables until it has loaded them again', async () => {
    const l = log(6);
    const tables = new Tables();
    const { lookup } = await readyLookup(tables);
    const loads = tables.loads;
    // Events 1-6 were applied by another provenance process: this batch starts after them.
    const later = [l.queued('job-c', 'c'), l.succeeded('job-c', 3)];
    let release: () => void = () => undefined;
    const snapshot = new Promise<void>((r) => (release = r));
    tables.snapshot = async () => {
      tables.loads++;
      await snapshot;
      return {
        signatures: { checkpoint: 6, jobs: [row('job-b', 'b', 5)] },
        sharing: { checkpoint: 6, projects: [] },
      };
    };
    tables.answer = [result('job-b')];
    lookup.signatures.committed({ after: 6, through: 8, events: later });
    expect(lookup.state).toBe('reloading');
    expect(ids(await ask(lookup, 'b'))).toEqual([['job-b']]);
    expect(tables.asked).toBe(1);

    release();
    await until(lookup, 'ready');
    expect(tables.loads).toBe(loads + 1);
    expect(ids(await ask(lookup, 'b'))).toEqual([['job-b']]);
    expect(ids(await ask(lookup, 'c'))).toEqual([['job-c']]);
    expect(tables.asked).toBe(1);
    lookup.stop();
  });

  it('after a replay swapped its table in, asks the tables until the next batch, then loads them again', async () => {
    const l = log(10);
    const tables = new Tables();
    const { lookup } = await readyLookup(tables);
    const loads = tables.loads;
    lookup.signatures.replaced();
    expect(lookup.state).toBe('reloading');
    await ask(lookup, 'a');
    expect(tables.asked).toBe(1);
    // The swap's transaction is not committed yet: nothing is read until a batch comes after it.
    expect(tables.loads).toBe(loads);
    tables.snapshotNow = {
      signatures: { checkpoint: 10, jobs: [row('job-r', 'r', 9)] },
      sharing: { checkpoint: 10, projects: [] },
    };
    lookup.signatures.committed({ after: 10, through: 12, events: [l.queued('job-s', 's')] });
    lookup.sharing.committed({ after: 10, through: 12, events: [] });
    await until(lookup, 'ready');
    expect(tables.loads).toBe(loads + 1);
    expect(ids(await ask(lookup, 'r'))).toEqual([['job-r']]);
    lookup.stop();
  });

  it('after another process swapped a replay in (no gap in the batches), loads the tables again', async () => {
    const tables = new Tables();
    let swappedAt: string | null = null;
    tables.snapshotNow = {
      signatures: { checkpoint: 10, jobs: [row('job-a', 'a', 9)] },
      sharing: { checkpoint: 10, projects: [] },
      swappedAt,
    };
    const source = Object.assign(tables, { lastSwap: () => Promise.resolve(swappedAt) });
    const { lookup } = await readyLookup(source);
    await lookup.checkSwap();
    expect(tables.loads).toBe(1);
    // Another provenance process swapped in a replay built up to the same event: job-a is gone
    // (the projection no longer keeps it), and no batch this process applies says so.
    swappedAt = '2026-12-06T04:00:00.000Z';
    tables.snapshotNow = {
      signatures: { checkpoint: 10, jobs: [row('job-b', 'a', 8)] },
      sharing: { checkpoint: 10, projects: [] },
      swappedAt,
    };
    await lookup.checkSwap();
    await until(lookup, 'ready');
    expect(tables.loads).toBe(2);
    expect(ids(await ask(lookup, 'a'))).toEqual([['job-b']]);
    // Seen once: asking again loads nothing more.
    await lookup.checkSwap();
    expect(tables.loads).toBe(2);
    lookup.stop();
  });

  it('finds the results of projects that share theirs with the asking one, after its own, until they stop sharing', async () => {
    const l = log();
    const { lookup } = await readyLookup();
    lookup.signatures.committed({
      after: 0,
      through: 6,
      events: [
        l.queued('job-q', 'a', 'q'),
        l.succeeded('job-q', 1, 'q'),
        l.queued('job-p', 'a', 'p'),
        l.succeeded('job-p', 1, 'p'),
        l.queued('job-r', 'a', 'r'),
        l.succeeded('job-r', 1, 'r'),
      ],
    });
    expect(ids(await ask(lookup, 'a'))).toEqual([['job-p']]);
    lookup.sharing.committed({
      after: 0,
      through: 8,
      events: [l.shares('q', ['p']), l.shares('r', ['p', 'x'])],
    });
    const [found] = await ask(lookup, 'a');
    // Its own first; then the others', newest first, each saying whose it is.
    expect(found!.map((r) => [r.jobId, r.project])).toEqual([
      ['job-p', undefined],
      ['job-r', 'r'],
      ['job-q', 'q'],
    ]);
    // Never the other way round, and not once q stops sharing.
    expect(ids(await ask(lookup, 'a', 'q'))).toEqual([['job-q']]);
    lookup.sharing.committed({ after: 8, through: 9, events: [l.shares('q', [])] });
    expect(ids(await ask(lookup, 'a'))).toEqual([['job-p', 'job-r']]);
    lookup.stop();
  });
});
