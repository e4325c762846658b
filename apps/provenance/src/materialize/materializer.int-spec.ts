import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import {
  AcaiError,
  FilesetProblems,
  type CommandPayload,
  type EventData,
  type StoredEvent,
} from '@acai/contracts';
import { EventingTables1764115200000, silentLogger } from '@acai/eventing';
import { FakeCommands } from '@acai/eventing/testing';
import { eventLog, migratedSchema, queuedJob } from '@acai/testkit';
import { lineageMigrations } from '../lineage/lineage.migration.js';
import { LineageProjection } from '../lineage/lineage.projection.js';
import { ProvenanceMetrics1764300000000 } from '../metrics/metrics.migration.js';
import { MetricsProjection } from '../metrics/metrics.projection.js';
import { ProvenanceJobSignatures1796900000000 } from '../reuse/signatures.migration.js';
import { ProvenanceMaterialization1797100000000 } from './materialize.migration.js';
import { Materializer } from './materializer.js';

type Emit = ReturnType<typeof eventLog>;

let schema: string;
let db: DataSource;
let drop: () => Promise<void> = () => Promise.resolve();

beforeAll(async () => {
  ({ db, schema, drop } = await migratedSchema('it_materialize', [
    EventingTables1764115200000,
    ProvenanceMetrics1764300000000,
    ProvenanceJobSignatures1796900000000,
    ...lineageMigrations,
    ProvenanceMaterialization1797100000000,
  ]));
});

afterAll(async () => {
  await drop();
});

/** A commit; its content is its own unless `sha256` names one another version has too. */
const committed = (
  version: number,
  bytes: number,
  createdBy: EventData<'fileset.version_committed'>['createdBy'],
  sha256 = `sha-${createdBy.kind === 'job' ? createdBy.jobId : createdBy.keyId}-${version}-${bytes}`,
): EventData<'fileset.version_committed'> => ({
  version,
  parent: version - 1,
  manifest: { sha256, files: 1, bytes },
  changes: { added: 1, replaced: 0, deleted: 0 },
  metadata: {},
  labels: [],
  createdBy,
});

/** A job that read `inputs`, ran `seconds` and made `output` (bytes), and maybe reported quality. */
function job(
  e: Emit,
  id: string,
  step: string,
  inputs: [string, number][],
  output: [string, number, number],
  seconds: number,
  accuracy?: number,
): StoredEvent[] {
  const [fileset, version, bytes] = output;
  return [
    e(
      'job.queued',
      id,
      queuedJob({
        runId: 'run-1',
        name: step,
        ...(accuracy === undefined ? {} : { quality: { metric: 'accuracy', goal: 'max' } }),
        inputs: inputs.map(([f, v]) => ({
          fileset: f,
          version: v,
          manifestSha256: `sha-${f}`,
          path: `inputs/${f}`,
        })),
      }),
    ),
    ...(accuracy === undefined
      ? []
      : [
          e('job.metrics_reported', id, {
            attempt: 1,
            points: [{ name: 'accuracy', value: accuracy, step: 1, time: '2026-12-04T10:00:00Z' }],
          }),
        ]),
    e(
      'fileset.version_committed',
      fileset,
      committed(version, bytes, {
        kind: 'job',
        jobId: id,
        runId: 'run-1',
        step,
        parameters: {},
        code: null,
      }),
    ),
    e('job.succeeded', id, {
      exitCode: 0,
      durationMs: seconds * 1000,
      outputs: [{ fileset, version }],
      attempt: 1,
    }),
  ];
}

/**
 * mnist@1 uploaded (9,000 B, source data); etl (60 s) makes features@1; train (120 s, accuracy
 * 0.97) reads it and makes model@1; a quick scratch job (1 s) makes tmp@1; eval reads model@1
 * (5 s) and makes report@1. Every derived version is 1,000 B.
 */
let firstSeq = 0;

function workload(project: string): StoredEvent[] {
  // Positions of its own: metric points are keyed by their place in the log.
  firstSeq += 1_000;
  const e = eventLog({ project, firstSeq });
  return [
    e('fileset.version_committed', 'mnist', committed(1, 9_000, { kind: 'key', keyId: 'k' })),
    ...job(e, 'job-etl', 'etl', [['mnist', 1]], ['features', 1, 1_000], 60),
    ...job(e, 'job-train', 'train', [['features', 1]], ['model', 1, 1_000], 120, 0.97),
    ...job(e, 'job-scratch', 'scratch', [['mnist', 1]], ['tmp', 1, 1_000], 1),
    ...job(e, 'job-eval', 'eval', [['model', 1]], ['report', 1, 1_000], 5),
  ];
}

async function seed(events: StoredEvent[]): Promise<void> {
  const lineage = new LineageProjection(schema);
  const metrics = new MetricsProjection(schema);
  await db.transaction(async (m) => {
    await lineage.apply(m, events);
    await metrics.apply(m, events);
  });
}

function catalog(refuse: string[] = []) {
  return new FakeCommands().on('evictVersion', (req: CommandPayload<'evictVersion'>) => {
    if (refuse.includes(`${req.name}@${req.version}`)) {
      throw new AcaiError(FilesetProblems.VERSION_PINNED, `Version ${req.version} is pinned`);
    }
    return {
      fileset: req.name,
      version: req.version,
      parent: 0,
      files: 1,
      bytes: 1_000,
      manifestSha256: 'x',
      metadata: {},
      labels: [],
      pinned: false,
      evicted: true,
      createdBy: { kind: 'key', keyId: 'k' },
      deletedBlobs: 1,
      sharedBlobs: 0,
    };
  });
}

describe('the materializer', () => {
  it('weighs only derived versions: recreation time, uses and the quality they lead to', async () => {
    await seed(workload('weigh'));
    const m = new Materializer(db, schema, catalog(), silentLogger, 0);
    const artifacts = await m.artifacts('weigh');
    const by = Object.fromEntries(artifacts.map((a) => [a.id, a]));
    // mnist@1 was uploaded: source data, never a candidate.
    expect(Object.keys(by).sort()).toEqual(['features@1', 'model@1', 'report@1', 'tmp@1']);
    expect(by['features@1']).toMatchObject({
      bytes: 1_000,
      recreateSeconds: 60,
      uses: 1,
      // It leads to the model train made, the best (the only one) of its metric.
      quality: 1,
      protectedBecause: null,
    });
    expect(by['model@1']).toMatchObject({ recreateSeconds: 120, uses: 1, quality: 1 });
    expect(by['tmp@1']).toMatchObject({ recreateSeconds: 1, uses: 0, quality: null });
  });

  it('counts recreating the ancestors already evicted in what an artifact costs', async () => {
    const events = workload('ancestors');
    const e = eventLog({ project: 'ancestors', firstSeq: events.at(-1)!.position.seq });
    await seed([
      ...events,
      e('fileset.version_evicted', 'features', { version: 1, reason: 'budget' }),
    ]);
    const m = new Materializer(db, schema, catalog(), silentLogger, 0);
    const by = Object.fromEntries((await m.artifacts('ancestors')).map((a) => [a.id, a]));
    // model@1 again: etl first (60 s, its input is gone), then train (120 s).
    expect(by['model@1']).toMatchObject({ recreateSeconds: 180, madeFrom: [] });
    // report@1: eval alone (5 s), as model@1 is there; evicting it would add model's 180 s.
    expect(by['report@1']).toMatchObject({ recreateSeconds: 5, madeFrom: ['model@1'] });
  });

  it('costs a version copied from another project at what computing it took there', async () => {
    // Project 'adopter' took job-origin's result (90 s, in a project that shares its results): the
    // scheduler copied features into it as version 1, made by job-copy, which ran for nothing.
    const e = eventLog({ project: 'adopter', firstSeq: (firstSeq += 1_000) });
    await seed([
      e(
        'fileset.version_committed',
        'features',
        committed(1, 1_000, {
          kind: 'job',
          jobId: 'job-copy',
          runId: 'run-9',
          step: 'etl',
          parameters: {},
          code: null,
        }),
      ),
      e('job.reused', 'job-copy', {
        runId: 'run-9',
        name: 'etl',
        command: ['etl'],
        env: {},
        inputs: [],
        outputs: [{ fileset: 'features', version: 1 }],
        signature: {
          sha256: 's',
          parts: { argv: ['etl'], code: [], parameters: {}, secrets: {}, inputs: [], outputs: [] },
          complete: true,
        },
        from: { jobId: 'job-origin', runId: 'run-0', savedSeconds: 90, savedCost: null },
        reason: 'same signature',
      }),
    ]);
    const m = new Materializer(db, schema, catalog(), silentLogger, 0);
    const by = Object.fromEntries((await m.artifacts('adopter')).map((a) => [a.id, a]));
    expect(by['features@1']).toMatchObject({ recreateSeconds: 90 });
  });

  it('evicts the lowest utility beyond the budget through the catalog, with its decision', async () => {
    await seed(workload('evict'));
    const commands = catalog();
    const m = new Materializer(db, schema, commands, silentLogger, 0);
    const view = await m.setBudget('evict', 2_000, undefined);

    const evicted = commands.sent.map((c) => c.request as CommandPayload<'evictVersion'>);
    // Four derived versions of 1,000 B under a 2,000 B budget: the two the models need least go.
    expect(evicted.map((r) => `${r.name}@${r.version}`)).toEqual(['tmp@1', 'report@1']);
    expect(evicted[0]!.decision).toMatchObject({
      by: 'materializer',
      recreateSeconds: 1,
      uses: 0,
      quality: null,
      alpha: 0.5,
      budgetBytes: 2_000,
      derivedBytes: 4_000,
      alternatives: [
        expect.objectContaining({ fileset: 'features' }),
        expect.objectContaining({ fileset: 'model' }),
      ],
    });
    expect(evicted[0]!.reason).toMatch(
      /^storage budget: 3\.9 KiB of derived artifacts over 2\.0 KiB/,
    );
    expect(view).toMatchObject({ project: 'evict', budgetBytes: 2_000, evictedVersions: 2 });
  });

  it('never evicts inputs of a job not ended, pinned versions, or beyond what is needed', async () => {
    const events = workload('keep');
    const e = eventLog({ project: 'keep', firstSeq: events.at(-1)!.position.seq });
    await seed([
      ...events,
      e('fileset.version_pinned', 'report', { version: 1, pinned: true }),
      // A job queued that reads tmp@1: it must still be there when it starts.
      e(
        'job.queued',
        'job-later',
        queuedJob({
          runId: 'run-2',
          name: 'later',
          inputs: [{ fileset: 'tmp', version: 1, manifestSha256: 'sha-tmp', path: 'inputs/tmp' }],
        }),
      ),
    ]);
    const commands = catalog();
    const m = new Materializer(db, schema, commands, silentLogger, 0);
    const artifacts = await m.artifacts('keep');
    expect(Object.fromEntries(artifacts.map((a) => [a.id, a.protectedBecause]))).toMatchObject({
      'report@1': 'it is pinned',
      'tmp@1': 'a job not ended reads it',
      'model@1': null,
    });
    await m.setBudget('keep', 3_000, undefined);
    // Protected: report and tmp (2,000 B); one more fits: features (lower utility than model) goes.
    expect(
      commands.sent.map((c) => {
        const r = c.request as CommandPayload<'evictVersion'>;
        return `${r.name}@${r.version}`;
      }),
    ).toEqual(['features@1']);
    // The catalog's eviction comes back through the log; then it is under budget: nothing more.
    await seed([e('fileset.version_evicted', 'features', { version: 1, reason: 'budget' })]);
    await m.round('keep');
    expect(commands.sent).toHaveLength(1);
  });

  it('keeps what a run not ended took as a reused result (its next steps read it)', async () => {
    const events = workload('reusing');
    const e = eventLog({ project: 'reusing', firstSeq: events.at(-1)!.position.seq });
    await seed([
      ...events,
      e('job.reused', 'job-again', {
        runId: 'run-9',
        name: 'train',
        command: ['train'],
        env: {},
        inputs: [],
        outputs: [{ fileset: 'model', version: 1 }],
        signature: {
          sha256: 'a'.repeat(64),
          parts: {
            argv: ['train'],
            code: [],
            parameters: {},
            secrets: {},
            inputs: [],
            outputs: [],
          },
          complete: true,
        },
        from: { jobId: 'job-train', runId: 'run-1', savedSeconds: 120, savedCost: null },
        reason: 'same signature',
      }),
    ]);
    await db.query(
      `INSERT INTO "${schema}".projection_documents (projection, key, project, doc, seq)
       VALUES ('runs', 'run-9', 'reusing', '{"status": "running"}', 1)`,
    );
    const m = new Materializer(db, schema, catalog(), silentLogger, 0);
    const by = Object.fromEntries((await m.artifacts('reusing')).map((a) => [a.id, a]));
    expect(by['model@1']).toMatchObject({
      protectedBecause: 'a run that made or reused it has not ended',
      uses: 2,
    });
    expect(by['features@1']?.protectedBecause).toBeNull();
  });

  it('keeps what the catalog refuses to evict (pinned since it was weighed)', async () => {
    await seed(workload('refused'));
    const commands = catalog(['tmp@1']);
    const m = new Materializer(db, schema, commands, silentLogger, 0);
    await m.setBudget('refused', 2_000, undefined);
    const round = await m.round('refused');
    expect(round?.refused).toEqual([{ id: 'tmp@1', why: 'Version 1 is pinned' }]);
  });

  it('keeps the most recently used instead under the lru policy (the baseline)', async () => {
    await seed(workload('lru'));
    const commands = catalog();
    const m = new Materializer(db, schema, commands, silentLogger, 0);
    const view = await m.setBudget('lru', 2_000, undefined, 'lru');
    // Last made or read: report (made last), then model (read by eval); tmp (made before eval
    // was queued) and features (read by train, early) go, though features is the costliest to make.
    expect(
      commands.sent.map((c) => {
        const r = c.request as CommandPayload<'evictVersion'>;
        return [`${r.name}@${r.version}`, r.decision?.policy];
      }),
    ).toEqual([
      ['tmp@1', 'lru'],
      ['features@1', 'lru'],
    ]);
    expect(view.policy).toBe('lru');
  });

  it('counts versions with the same content once, as the catalog stores them', async () => {
    // A second etl made features@2 with exactly features@1's files (a deterministic step run
    // again): 1,000 bytes stored once.
    const events = workload('shared');
    const e = eventLog({ project: 'shared', firstSeq: events.at(-1)!.position.seq });
    const by = {
      kind: 'job',
      jobId: 'job-etl-2',
      runId: 'run-2',
      step: 'etl',
      parameters: {},
      code: null,
    } as const;
    const features1 = events.find(
      (x) => x.type === 'fileset.version_committed' && x.aggregateId === 'features',
    )!.data as EventData<'fileset.version_committed'>;
    await seed([
      ...events,
      e(
        'fileset.version_committed',
        'features',
        committed(2, 1_000, by, features1.manifest.sha256),
      ),
    ]);
    const commands = catalog();
    const m = new Materializer(db, schema, commands, silentLogger, 0);
    expect(await m.view('shared')).toMatchObject({ derivedBytes: 4_000, derivedVersions: 5 });
    // Room for 3,000 bytes: one unit of 1,000 goes (tmp, the cheapest), and features@1 and @2 are
    // kept together, not one of them evicted for bytes it would not free.
    const view = await m.setBudget('shared', 3_000, undefined);
    expect(commands.sent.map((c) => (c.request as CommandPayload<'evictVersion'>).name)).toEqual([
      'tmp',
    ]);
    expect(view).toMatchObject({ derivedBytes: 3_000, derivedVersions: 4 });
  });

  it('does nothing without a budget', async () => {
    await seed(workload('none'));
    const commands = catalog();
    const m = new Materializer(db, schema, commands, silentLogger, 0);
    expect(await m.setBudget('none', null, undefined)).toMatchObject({
      budgetBytes: null,
      derivedBytes: 4_000,
      derivedVersions: 4,
    });
    expect(await m.round('none')).toBeNull();
    expect(commands.sent).toHaveLength(0);
  });
});
