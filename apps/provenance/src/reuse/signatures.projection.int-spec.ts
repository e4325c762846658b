import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import type { EventData, JobSignature, StoredEvent } from '@acai/contracts';
import { eventLog, migratedSchema, queuedJob } from '@acai/testkit';
import { ProvenanceJobSignatures1796900000000 } from './signatures.migration.js';
import { SignaturesProjection } from './signatures.projection.js';
import { SqlSignaturesRepository } from './signatures.repository.js';

let schema: string;
let db: DataSource;
let drop: () => Promise<void> = () => Promise.resolve();

beforeAll(async () => {
  ({ db, schema, drop } = await migratedSchema('it_signatures', [
    ProvenanceJobSignatures1796900000000,
  ]));
});

afterAll(async () => {
  await drop();
});

const signature = (sha: string, parameters: Record<string, string> = {}): JobSignature => ({
  sha256: sha.repeat(64),
  parts: { argv: ['etl'], code: [], parameters, secrets: {}, inputs: [], outputs: [] },
  complete: true,
  codeSha256: null,
});
const offer = {
  provider: 'local',
  name: 'local-1cpu',
  vCpu: 1,
  memoryMb: 512,
  pricePerHour: 0.36,
};
const provisioned: EventData<'job.provisioned'> = {
  provider: 'local',
  pool: 'local',
  resources: { cpu: 1, memoryMb: 512 },
  reason: 'chosen',
  offer,
  decision: null,
};

/** Job a ran and committed data@1; b failed; c (same signature as a) reused a; d in project q. */
function history(project = 'p'): StoredEvent[] {
  const e = eventLog({ project });
  const q = (sha: string, params: Record<string, string> = {}) =>
    queuedJob({ name: 'etl', signature: signature(sha, params) });
  return [
    e('job.queued', 'job-a', q('a')),
    e('job.provisioned', 'job-a', provisioned),
    e('job.succeeded', 'job-a', {
      exitCode: 0,
      durationMs: 10_000,
      outputs: [{ fileset: 'data', version: 1 }],
      attempt: 1,
    }),
    e('job.queued', 'job-b', q('b', { N: '2' })),
    e('job.failed', 'job-b', {
      reason: 'nonzero_exit',
      message: 'exit 1',
      exitCode: 1,
      signal: null,
      durationMs: 5,
      lastLines: [],
      attempt: 1,
    }),
    e('job.reused', 'job-c', {
      runId: 'run-2',
      name: 'etl',
      command: ['etl'],
      env: {},
      inputs: [],
      outputs: [{ fileset: 'data', version: 1 }],
      signature: signature('a'),
      from: { jobId: 'job-a', runId: 'run-1', savedSeconds: 10, savedCost: 0.001 },
      reason: 'same signature',
    }),
  ];
}

describe('the job-signatures projection', () => {
  it('finds a project’s newest result by signature, with what it ran for and cost', async () => {
    const projection = new SignaturesProjection(schema);
    await db.transaction((m) => projection.apply(m, history()));
    const repo = new SqlSignaturesRepository(db, projection);

    // c (reused from a) is the newest result; it carries a's running time and price.
    expect(await repo.findResult('p', 'a'.repeat(64), 'job-new')).toEqual({
      jobId: 'job-c',
      runId: 'run-2',
      name: 'etl',
      outputs: [{ fileset: 'data', version: 1 }],
      durationMs: 10_000,
      pricePerHour: 0.36,
      reusedFrom: 'job-a',
    });
    expect((await repo.findResults('p', 'a'.repeat(64), 'job-new', 5)).map((r) => r.jobId)).toEqual(
      ['job-c', 'job-a'],
    );
    // Asked for c itself, the one before it.
    expect((await repo.findResult('p', 'a'.repeat(64), 'job-c'))?.jobId).toBe('job-a');
    // A failed job is no result; another project sees nothing of p's.
    expect(await repo.findResult('p', 'b'.repeat(64), 'job-new')).toBeNull();
    expect(await repo.findResult('q', 'a'.repeat(64), 'job-new')).toBeNull();
  });

  it('finds the nearest earlier job of a step, and is the same applied twice', async () => {
    const projection = new SignaturesProjection(schema);
    await db.transaction((m) => projection.apply(m, history()));
    const repo = new SqlSignaturesRepository(db, projection);
    const c = await repo.find('p', 'job-c');
    expect(c).toMatchObject({ status: 'reused', reusedFrom: 'job-a', reason: 'same signature' });
    expect(await repo.nearestBefore('p', 'etl', c!.seq)).toMatchObject({
      jobId: 'job-b',
      status: 'failed',
      parts: { parameters: { N: '2' } },
    });
    expect(await repo.nearestBefore('p', 'other-step', c!.seq)).toBeNull();
  });

  it('keeps what computing a result of another project took, for a job that reused it', async () => {
    const projection = new SignaturesProjection(schema);
    // Project t reuses job-a of project p (which shares its results with t): t holds no row of a.
    const reused = eventLog({ project: 't' })('job.reused', 'job-t', {
      runId: 'run-t',
      name: 'etl',
      command: ['etl'],
      env: {},
      inputs: [],
      outputs: [{ fileset: 'data', version: 4 }],
      signature: signature('a'),
      from: { jobId: 'job-a', runId: 'run-1', savedSeconds: 10, savedCost: 0.001 },
      reason: 'same signature, of project p',
    });
    await db.transaction((m) => projection.apply(m, [...history(), reused]));
    const repo = new SqlSignaturesRepository(db, projection);
    const found = await repo.findResult('t', 'a'.repeat(64), 'job-new');
    expect(found).toMatchObject({ jobId: 'job-t', durationMs: 10_000, reusedFrom: 'job-a' });
    expect(found?.pricePerHour).toBeCloseTo(0.36, 10);
  });

  it('is rebuilt by a replay beside the live table, then swapped in', async () => {
    const live = new SignaturesProjection(schema);
    await db.transaction((m) => live.apply(m, history('r')));
    const replica = live.replica();
    await db.transaction(async (m) => {
      await replica.reset(m);
      await replica.apply(m, history('r'));
      await replica.apply(m, history('s'));
    });
    // Three signed jobs of each project of the replayed log.
    expect(await db.transaction((m) => replica.count(m))).toBe(6);
    await db.transaction((m) => replica.promote(m));
    const repo = new SqlSignaturesRepository(db, live);
    expect((await repo.findResult('s', 'a'.repeat(64), 'x'))?.jobId).toBe('job-c');
    // The live table is now the replay's: p's rows (not in the replayed log) are gone.
    expect(await repo.findResult('p', 'a'.repeat(64), 'x')).toBeNull();
  });
});
