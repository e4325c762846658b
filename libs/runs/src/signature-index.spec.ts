import { describe, expect, it } from '@jest/globals';
import { eventLog } from '@acai/testkit';
import type { EventData, JobSignature, StoredEvent } from '@acai/contracts';
import { SignatureIndex } from './signature-index.js';

const signature = (sha256: string, complete = true): JobSignature => ({
  sha256,
  parts: { argv: ['train'], code: [], parameters: {}, secrets: {}, inputs: [], outputs: [] },
  complete,
});

const queued = (name: string, sig: JobSignature, runId = 'run-1'): EventData<'job.queued'> => ({
  runId,
  name,
  command: ['train'],
  env: {},
  resources: { cpu: 1, memoryMb: 512 },
  inputs: [],
  outputs: [{ fileset: 'model', path: 'out', labels: [], save: true }],
  timeoutSeconds: null,
  provision: null,
  network: 'default',
  secrets: {},
  retries: null,
  signature: sig,
});

const succeeded = (version: number): EventData<'job.succeeded'> => ({
  exitCode: 0,
  durationMs: 4_000,
  outputs: [{ fileset: 'model', version }],
  attempt: 1,
});

function indexOf(events: StoredEvent[]): SignatureIndex {
  const index = new SignatureIndex();
  for (const event of events) index.apply(event);
  return index;
}

describe('the in-memory signature index', () => {
  it('finds the newest job of the project that succeeded with the signature', () => {
    const e = eventLog();
    const index = indexOf([
      e('job.queued', 'job-a', queued('train', signature('s1'))),
      e('job.succeeded', 'job-a', succeeded(1)),
      e('job.queued', 'job-b', queued('train', signature('s1'), 'run-2')),
      e('job.succeeded', 'job-b', succeeded(2)),
    ]);
    expect(index.find('default', 's1', 'job-new')).toEqual({
      jobId: 'job-b',
      runId: 'run-2',
      name: 'train',
      outputs: [{ fileset: 'model', version: 2 }],
      durationMs: 4_000,
      pricePerHour: null,
      reusedFrom: null,
    });
    expect(index.find('default', 's2', 'job-new')).toBeNull();
    // Never across projects.
    expect(index.find('other', 's1', 'job-new')).toBeNull();
  });

  it('does not index a job that failed, was cancelled, or whose code could not be hashed', () => {
    const e = eventLog();
    const index = indexOf([
      e('job.queued', 'job-a', queued('train', signature('s1'))),
      e('job.failed', 'job-a', {
        reason: 'nonzero_exit',
        message: 'exit 1',
        exitCode: 1,
        signal: null,
        durationMs: 5,
        lastLines: [],
        attempt: 1,
      }),
      e('job.queued', 'job-b', queued('train', signature('s2'))),
      e('job.cancelled', 'job-b', { reason: 'the run was cancelled' }),
      e('job.succeeded', 'job-b', succeeded(1)),
      e('job.queued', 'job-c', queued('train', signature('s3', false))),
      e('job.succeeded', 'job-c', succeeded(1)),
    ]);
    expect(index.size).toBe(0);
  });

  it('indexes a job that reused an earlier result, pointing at it', () => {
    const e = eventLog();
    const index = indexOf([
      e('job.reused', 'job-r', {
        runId: 'run-3',
        name: 'train',
        command: ['train'],
        env: {},
        inputs: [],
        outputs: [{ fileset: 'model', version: 1 }],
        signature: signature('s1'),
        from: { jobId: 'job-a', runId: 'run-1', savedSeconds: 4, savedCost: null },
        reason: 'job job-a had the same signature',
      }),
    ]);
    expect(index.find('default', 's1', 'job-new')).toMatchObject({
      jobId: 'job-r',
      reusedFrom: 'job-a',
      durationMs: 4_000,
    });
  });

  it('is the same after the events are applied twice, the older after the newer', () => {
    const e = eventLog();
    const events = [
      e('job.queued', 'job-a', queued('train', signature('s1'))),
      e('job.succeeded', 'job-a', succeeded(1)),
      e('job.queued', 'job-b', queued('train', signature('s1'))),
      e('job.succeeded', 'job-b', succeeded(2)),
    ];
    // The whole log again (a replay), then the first job's events once more (a redelivery).
    const index = indexOf([...events, ...events, events[0]!, events[1]!]);
    expect(index.find('default', 's1', 'job-new')).toMatchObject({ jobId: 'job-b' });
    expect(index.size).toBe(1);
    expect(index.position).toBe(events[3]!.position.seq);
  });
});
