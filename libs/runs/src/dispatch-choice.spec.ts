import { describe, expect, it } from '@jest/globals';
import {
  chooseReleases,
  type DispatchSnapshot,
  type OutCount,
  type WaitingJob,
} from './dispatch-choice.js';

let seq = 0;

/** A placed job, placed after every one made before it. */
function waiting(
  project: string,
  runId: string,
  more: Partial<Omit<WaitingJob, 'project' | 'runId'>> = {},
): WaitingJob {
  seq += 1;
  return {
    project,
    runId,
    jobId: `${runId}-job-${seq}`,
    pool: 'local',
    priority: 0,
    maxParallel: null,
    placedSeq: seq,
    ...more,
  };
}

function out(project: string, runId: string, jobs: number, pool = 'local'): OutCount {
  return { pool, project, runId, jobs };
}

/** Given the waiting jobs, the jobs out and the pools' slots, when a pass chooses: which go. */
function given(snapshot: Partial<DispatchSnapshot> & Pick<DispatchSnapshot, 'waiting'>) {
  const released = chooseReleases({
    out: [],
    capacity: new Map([['local', 2]]),
    prefetch: 1,
    limit: 256,
    ...snapshot,
  });
  return released.map((j) => j.jobId);
}

describe('which waiting jobs a dispatch pass releases', () => {
  it('fills a pool up to its slots plus the prefetch, first placed first', () => {
    const jobs = Array.from({ length: 10 }, () => waiting('a', 'run-a'));
    expect(given({ waiting: jobs })).toEqual(jobs.slice(0, 3).map((j) => j.jobId));
    expect(given({ waiting: jobs, out: [out('a', 'run-a', 2)] })).toEqual([jobs[0]!.jobId]);
    expect(given({ waiting: jobs, out: [out('a', 'run-a', 3)] })).toEqual([]);
    expect(given({ waiting: jobs, prefetch: 0, out: [out('a', 'run-a', 1)] })).toEqual([
      jobs[0]!.jobId,
    ]);
  });

  it('gives the next free slot to the project with nothing out, however many another has waiting', () => {
    const many = Array.from({ length: 10_000 }, () => waiting('a', 'run-a'));
    const single = waiting('b', 'run-b');
    // Project a holds the pool (2 slots + 1 prefetched); one of its jobs ends.
    expect(given({ waiting: [...many, single], out: [out('a', 'run-a', 2)] })).toEqual([
      single.jobId,
    ]);
  });

  it('shares a pool that frees up between projects, one each in turn, the longest waiting first', () => {
    const b = [waiting('b', 'run-b'), waiting('b', 'run-b')];
    const a = [waiting('a', 'run-a'), waiting('a', 'run-a')];
    const c = [waiting('c', 'run-c')];
    const released = given({
      waiting: [...a, ...b, ...c],
      capacity: new Map([['local', 4]]),
      prefetch: 0,
    });
    expect(released).toEqual([b[0]!.jobId, a[0]!.jobId, c[0]!.jobId, b[1]!.jobId]);
  });

  it('counts a project’s share per pool: jobs out elsewhere do not hold it back here', () => {
    const a = waiting('a', 'run-a');
    const b = waiting('b', 'run-b');
    expect(
      given({
        waiting: [a, b],
        out: [out('a', 'run-a', 5, 'gpu'), out('b', 'run-b', 1)],
        prefetch: 0,
      }),
    ).toEqual([a.jobId]);
  });

  it('runs a project’s higher-priority run first, then first placed, without taking another project’s share', () => {
    const low = waiting('a', 'run-low', { priority: -5 });
    const normal = waiting('a', 'run-normal');
    const urgent = waiting('a', 'run-urgent', { priority: 50 });
    const other = waiting('b', 'run-b');
    expect(
      given({
        waiting: [low, normal, urgent, other],
        capacity: new Map([['local', 3]]),
        prefetch: 0,
      }),
    ).toEqual([urgent.jobId, other.jobId, normal.jobId]);
  });

  it('never has more of a run out than its maxParallel, across pools, and lets its project’s other runs through', () => {
    const limited = Array.from({ length: 4 }, () => waiting('a', 'run-x', { maxParallel: 2 }));
    const free = waiting('a', 'run-y');
    expect(
      given({
        waiting: [...limited, free],
        capacity: new Map([['local', 10]]),
        out: [out('a', 'run-x', 1, 'gpu')],
      }),
    ).toEqual([limited[0]!.jobId, free.jobId]);
    expect(
      given({ waiting: limited, capacity: new Map([['local', 10]]), out: [out('a', 'run-x', 2)] }),
    ).toEqual([]);
  });

  it('releases everything waiting in a pool whose size nobody reports, in turn, up to the pass limit', () => {
    const jobs = [
      waiting('a', 'run-a', { pool: 'simulated-c5-large' }),
      waiting('a', 'run-a', { pool: 'simulated-c5-large' }),
      waiting('b', 'run-b', { pool: 'simulated-c5-large' }),
    ];
    expect(given({ waiting: jobs, capacity: new Map() })).toEqual([
      jobs[0]!.jobId,
      jobs[2]!.jobId,
      jobs[1]!.jobId,
    ]);
    expect(given({ waiting: jobs, capacity: new Map(), limit: 2 })).toHaveLength(2);
    // maxParallel holds there too.
    const limited = jobs.map((j) => ({ ...j, maxParallel: 1 }));
    expect(given({ waiting: limited, capacity: new Map() })).toEqual([
      jobs[0]!.jobId,
      jobs[2]!.jobId,
    ]);
  });

  it('holds a gated pool with no slots (its nodes not heard yet) beyond the prefetch', () => {
    const jobs = [waiting('a', 'run-a'), waiting('a', 'run-a')];
    expect(given({ waiting: jobs, capacity: new Map([['local', 0]]), prefetch: 0 })).toEqual([]);
    expect(given({ waiting: jobs, capacity: new Map([['local', 0]]), prefetch: 1 })).toEqual([
      jobs[0]!.jobId,
    ]);
  });
});
