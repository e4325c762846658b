import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import {
  isolatedTopology,
  type EventData,
  type JobSignature,
  type NewEvent,
} from '@acai/contracts';
import {
  connectBus,
  deleteStreams,
  ensureStreams,
  eventingMigrations,
  EventStore,
  PostgresDeadLetters,
  ProjectionRunner,
  type Bus,
} from '@acai/eventing';
import { migratedSchema, queuedJob, testEnv, uniqueTag } from '@acai/testkit';
import { ReuseLookup } from './reuse-lookup.js';
import { ProvenanceReuseSharing1797200000000 } from './sharing.migration.js';
import { SharingProjection } from './sharing.projection.js';
import { ProvenanceJobSignatures1796900000000 } from './signatures.migration.js';
import { SignaturesProjection } from './signatures.projection.js';
import { SqlSignaturesRepository } from './signatures.repository.js';

const tag = uniqueTag();
let bus: Bus;
let store: EventStore;
let schema: string;
let db: DataSource;
let drop: () => Promise<void> = () => Promise.resolve();

beforeAll(async () => {
  bus = await connectBus({
    url: testEnv().natsUrl,
    name: 'reuse-lookup-it',
    topology: isolatedTopology(tag),
  });
  await ensureStreams(bus);
  store = new EventStore(bus);
  ({ db, schema, drop } = await migratedSchema('it_reuse_lookup', [
    ...eventingMigrations,
    ProvenanceJobSignatures1796900000000,
    ProvenanceReuseSharing1797200000000,
  ]));
});

afterAll(async () => {
  await drop();
  if (bus !== undefined) {
    await deleteStreams(bus);
    await bus.close();
  }
});

const sha = (c: string) => c.repeat(64);
const signature = (c: string): JobSignature => ({
  sha256: sha(c),
  parts: { argv: ['etl'], code: [], parameters: {}, secrets: {}, inputs: [], outputs: [] },
  complete: true,
  codeSha256: null,
});
const succeeded = (version: number, durationMs: number): EventData<'job.succeeded'> => ({
  exitCode: 0,
  durationMs,
  outputs: [{ fileset: 'data', version }],
  attempt: 1,
});

/** Provenance as it runs: the runner applying both projections, and the lookup following them. */
/** Every provenance started by a test, stopped after it whatever happened. */
const processes: { stop(): Promise<void> }[] = [];

afterEach(async () => {
  for (const p of processes.splice(0)) await p.stop();
});

function provenance() {
  const lookup = new ReuseLookup(silent, 10);
  const signatures = new SignaturesProjection(schema, lookup.signatures);
  const sharing = new SharingProjection(schema, lookup.sharing);
  const runner = new ProjectionRunner(
    bus,
    db,
    [signatures, sharing],
    new PostgresDeadLetters(db),
    // Small batches, so that two processes interleave theirs.
    { batchSize: 3 },
  );
  const sql = new SqlSignaturesRepository(
    db,
    signatures,
    sharing.table(),
    `"${schema}".projection_checkpoints`,
    `"${schema}".projection_replays`,
  );
  let stopped = false;
  const process = {
    lookup,
    runner,
    sql,
    async start() {
      await runner.start();
      await lookup.start(sql, (ms) => runner.catchUp(ms));
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      lookup.stop();
      await runner.stop();
    },
  };
  processes.push(process);
  return process;
}

const silent = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  debug: () => undefined,
};

async function append(project: string, aggregate: string, id: string, events: NewEvent[]) {
  const stored = await store.append({ project, aggregate, id }, events, { expectedVersion: 'any' });
  return stored[stored.length - 1]!.position.seq;
}

/** Waits (as long as it takes) until the lookup answers from memory. */
async function ready(lookup: ReuseLookup): Promise<void> {
  while (lookup.state !== 'ready') await new Promise((r) => setTimeout(r, 10));
}

describe('the reuse lookup in a provenance process', () => {
  it('answers from memory exactly what the tables answer, with two processes applying the projections', async () => {
    const project = `p${uniqueTag()}`;
    const other = `q${uniqueTag()}`;
    const a = provenance();
    const b = provenance();
    // Some history before either starts: loaded from the tables once applied.
    await append(project, 'job', 'job-1', [
      { type: 'job.queued', data: queuedJob({ name: 'etl', signature: signature('a') }) },
      { type: 'job.succeeded', data: succeeded(1, 1_000) },
    ]);
    await a.start();
    await b.start();
    // Then jobs, each ended while others were queued, failures, a reuse and sharing, while both
    // processes apply batches of three: each sees gaps where the other applied events.
    let last = 0;
    for (let i = 2; i <= 13; i++) {
      const sig = i % 3 === 0 ? 'b' : 'a';
      last = await append(project, 'job', `job-${i}`, [
        { type: 'job.queued', data: queuedJob({ name: 'etl', signature: signature(sig) }) },
      ]);
      if (i % 4 === 0) {
        last = await append(project, 'job', `job-${i - 1}`, [
          {
            type: 'job.failed',
            data: {
              reason: 'nonzero_exit',
              message: 'exit 1',
              exitCode: 1,
              signal: null,
              durationMs: 5,
              lastLines: [],
              attempt: 1,
            },
          },
        ]);
      }
      if (i % 2 === 0) {
        last = await append(project, 'job', `job-${i}`, [
          { type: 'job.succeeded', data: succeeded(i, i * 100) },
        ]);
      }
    }
    // Another project's result, found once it shares its results with this one.
    await append(other, 'job', 'job-q', [
      { type: 'job.queued', data: queuedJob({ name: 'etl', signature: signature('c') }) },
      { type: 'job.succeeded', data: succeeded(1, 50) },
    ]);
    await append(other, 'project', other, [
      {
        type: 'project.reuse_sharing_changed',
        data: { with: [project], before: [], keyId: null },
      },
    ]);
    last = await append(project, 'job', 'job-14', [
      {
        type: 'job.reused',
        data: {
          runId: 'run-2',
          name: 'etl',
          command: ['etl'],
          env: {},
          inputs: [],
          outputs: [{ fileset: 'data', version: 12 }],
          signature: signature('a'),
          from: { jobId: 'job-10', runId: 'run-1', savedSeconds: 1, savedCost: 0.001 },
          reason: 'same signature',
        },
      },
    ]);
    await Promise.all([a.runner.waitFor(last), b.runner.waitFor(last)]);
    await Promise.all([ready(a.lookup), ready(b.lookup)]);

    const lookups = ['a', 'b', 'c'].flatMap((c) =>
      ['job-new', 'job-10', 'job-14'].map((excludeJobId) => ({
        signature: sha(c),
        excludeJobId,
      })),
    );
    const fromTables = await Promise.all(
      lookups.map((l) => a.sql.findResults(project, l.signature, l.excludeJobId, 5)),
    );
    // Succeeded with signature a: jobs 1, 2, 4, 8, 10 (3 and 7 failed, 6 and 12 are b), 14 reused.
    expect(fromTables[0]!.map((r) => r.jobId)).toEqual([
      'job-14',
      'job-10',
      'job-8',
      'job-4',
      'job-2',
    ]);
    expect(fromTables[0]![0]!.durationMs).toBe(1_000);
    expect(fromTables[6]!.map((r) => [r.jobId, r.project])).toEqual([['job-q', other]]);
    expect(await a.lookup.findMany(project, lookups, 5)).toEqual(fromTables);
    expect(await b.lookup.findMany(project, lookups, 5)).toEqual(fromTables);

    // A restart loads what both applied from the tables, and answers the same.
    await a.stop();
    const again = provenance();
    await again.start();
    await ready(again.lookup);
    expect(await again.lookup.findMany(project, lookups, 5)).toEqual(fromTables);
  });

  it('loads the tables again when another process swapped a replay of them in', async () => {
    const project = `p${uniqueTag()}`;
    await append(project, 'job', 'job-1', [
      { type: 'job.queued', data: queuedJob({ name: 'etl', signature: signature('e') }) },
      { type: 'job.succeeded', data: succeeded(1, 1_000) },
    ]);
    // A row the log does not hold (as a projection with a bug would have written): a replay of
    // job-signatures drops it.
    await db.query(
      `INSERT INTO "${schema}".job_signatures (project, job_id, run_id, name, signature, parts, complete, status, seq)
       VALUES ($1, 'job-wrong', 'run-0', 'etl', $2, '{}', true, 'succeeded', 1)`,
      [project, sha('f')],
    );
    const a = provenance();
    const b = provenance();
    await a.start();
    await b.start();
    await Promise.all([ready(a.lookup), ready(b.lookup)]);
    const wrong = [{ signature: sha('f'), excludeJobId: 'job-new' }];
    expect((await b.lookup.findMany(project, wrong, 5))[0]!.map((r) => r.jobId)).toEqual([
      'job-wrong',
    ]);

    // a replays the projection and swaps it in; b applies no batch that shows it.
    await a.runner.replay('job-signatures');
    await b.lookup.checkSwap();
    await ready(b.lookup);
    expect(await b.lookup.findMany(project, wrong, 5)).toEqual([[]]);
    expect(
      (await b.lookup.findMany(project, [{ signature: sha('e'), excludeJobId: 'x' }], 5))[0]!.map(
        (r) => r.jobId,
      ),
    ).toEqual(['job-1']);
  });
});
