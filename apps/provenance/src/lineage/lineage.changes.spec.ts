import { describe, expect, it } from '@jest/globals';
import { AcaiError } from '@acai/contracts';
import { eventLog, queuedJob } from '@acai/testkit';
import { lineageChanges } from './lineage.changes.js';
import { decodeCursor, encodeCursor } from './lineage.cursor.js';

const e = eventLog({ project: 'p' });
const queued = e(
  'job.queued',
  'job-1',
  queuedJob({
    name: 'etl',
    env: { N: '1' },
    quality: { metric: 'accuracy', goal: 'max' },
    inputs: [{ fileset: 'raw', version: 2, manifestSha256: 'x', path: '/in' }],
  }),
);

describe('lineageChanges', () => {
  it('makes a job and the version it reads, with an input edge from the version', () => {
    const { nodes, edges } = lineageChanges([queued]);
    expect([...nodes.values()].map((n) => [n.id, n.creates])).toEqual([
      ['job:job-1', true],
      ['version:raw@2', true],
    ]);
    expect([...edges.values()]).toEqual([
      {
        project: 'p',
        src: 'version:raw@2',
        dst: 'job:job-1',
        kind: 'input',
        seq: queued.position.seq,
      },
    ]);
  });

  it('folds a job’s events into one change, later fields winning, its first position kept', () => {
    const started = e('job.started', 'job-1', { executor: 'n', attempt: 1, pid: null });
    const done = e('job.succeeded', 'job-1', {
      exitCode: 0,
      durationMs: 1_500,
      outputs: [{ fileset: 'clean', version: 1 }],
      attempt: 1,
    });
    const { nodes, edges } = lineageChanges([queued, started, done]);
    expect(nodes.get('p\u0000job:job-1')).toMatchObject({
      creates: true,
      step: 'etl',
      parameters: { N: '1' },
      status: 'succeeded',
      durationMs: 1_500,
      quality: { metric: 'accuracy', goal: 'max' },
      seq: queued.position.seq,
    });
    expect([...edges.values()].map((x) => `${x.src} ${x.kind} ${x.dst}`)).toEqual([
      'version:raw@2 input job:job-1',
      'job:job-1 output version:clean@1',
    ]);
  });

  it('records how long the job took to load each version it read, the latest winning', () => {
    const done = (seq: string, ms: number) =>
      e('job.succeeded', seq, {
        exitCode: 0,
        durationMs: 1_000,
        outputs: [],
        attempt: 1,
        loads: [{ fileset: 'raw', version: 2, ms }],
      });
    const { nodes } = lineageChanges([queued, done('job-1', 120.5), done('job-1', 80)]);
    expect(nodes.get('p\u0000version:raw@2')).toMatchObject({ creates: true, loadMs: 80 });
    // Alone (the version made earlier): an update of the version, never a new one.
    const later = lineageChanges([done('job-2', 95)]);
    expect(later.nodes.get('p\u0000version:raw@2')).toMatchObject({ creates: false, loadMs: 95 });
  });

  it('only updates a job it has not seen queued (a status), never makes it', () => {
    const { nodes } = lineageChanges([
      e('job.started', 'job-9', { executor: 'n', attempt: 1, pid: null }),
    ]);
    expect([...nodes.values()]).toEqual([
      expect.objectContaining({ id: 'job:job-9', creates: false, status: 'running' }),
    ]);
  });

  it('makes a reused job succeeded, with its inputs and the versions it took (reused edges)', () => {
    const reused = e('job.reused', 'job-2', {
      runId: 'run-2',
      name: 'etl',
      command: ['etl'],
      env: {},
      inputs: [{ fileset: 'raw', version: 2, manifestSha256: 'x', path: '/in' }],
      outputs: [{ fileset: 'clean', version: 1 }],
      signature: {
        sha256: 's',
        parts: { argv: ['etl'], code: [], parameters: {}, secrets: {}, inputs: [], outputs: [] },
        complete: true,
      },
      from: { jobId: 'job-1', runId: 'run-1', savedSeconds: null, savedCost: null },
      reason: 'same signature',
    });
    const { nodes, edges } = lineageChanges([reused]);
    expect(nodes.get('p\u0000job:job-2')).toMatchObject({
      creates: true,
      status: 'succeeded',
      reusedFrom: 'job-1',
    });
    expect(nodes.get('p\u0000version:clean@1')?.createdBy).toBeUndefined();
    expect([...edges.values()].map((x) => `${x.src} ${x.kind} ${x.dst}`)).toEqual([
      'version:raw@2 input job:job-2',
      'job:job-2 reused version:clean@1',
    ]);
  });

  it('records on a reused job how long the job that computed its result ran (what it saved)', () => {
    const reused = (savedSeconds: number | null) =>
      e('job.reused', 'job-3', {
        runId: 'run-3',
        name: 'etl',
        command: ['etl'],
        env: {},
        inputs: [],
        outputs: [{ fileset: 'clean', version: 4 }],
        signature: {
          sha256: 's',
          parts: { argv: ['etl'], code: [], parameters: {}, secrets: {}, inputs: [], outputs: [] },
          complete: true,
        },
        from: { jobId: 'job-of-another-project', runId: 'run-0', savedSeconds, savedCost: null },
        reason: 'same signature',
      });
    expect(lineageChanges([reused(42.5)]).nodes.get('p\u0000job:job-3')).toMatchObject({
      savedMs: 42_500,
    });
    // Not known (the earlier job had no duration): left unset.
    expect(lineageChanges([reused(null)]).nodes.get('p\u0000job:job-3')?.savedMs).toBeUndefined();
  });

  it('ignores events that say nothing about lineage', () => {
    const metrics = e('job.metrics_reported', 'job-1', { attempt: 1, points: [] });
    expect(lineageChanges([metrics]).nodes.size).toBe(0);
  });
});

describe('lineage cursors', () => {
  it('round-trips a position', () => {
    expect(decodeCursor(encodeCursor({ rank: 3, id: 'job:job-1' }))).toEqual({
      rank: 3,
      id: 'job:job-1',
    });
  });

  it.each([
    'nope',
    Buffer.from('[0,"x"]').toString('base64url'),
    Buffer.from('{}').toString('base64url'),
    Buffer.from('[1e300,"x"]').toString('base64url'),
    Buffer.from('[2,"a\\u0000b"]').toString('base64url'),
  ])('refuses %s, naming the cursor', (cursor) => {
    expect(() => decodeCursor(cursor)).toThrow(AcaiError);
    expect(() => decodeCursor(cursor)).toThrow(/cursor/);
  });
});
