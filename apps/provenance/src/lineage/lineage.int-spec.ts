import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import type { EventData, LineageEdge, StoredEvent } from '@acai/contracts';
import { eventLog, migratedSchema, queuedJob } from '@acai/testkit';
import { lineageMigrations } from './lineage.migration.js';
import { LineageProjection } from './lineage.projection.js';
import { SqlLineageRepository } from './lineage.repository.js';

type Emit = ReturnType<typeof eventLog>;

/** A version committed by an upload (`by` a key) or by a job. */
function committed(
  version: number,
  createdBy: EventData<'fileset.version_committed'>['createdBy'],
  bytes = 1_000,
): EventData<'fileset.version_committed'> {
  return {
    version,
    parent: version - 1,
    manifest: { sha256: `sha-${version}-${bytes}`, files: 2, bytes },
    changes: { added: 2, replaced: 0, deleted: 0 },
    metadata: {},
    labels: [],
    createdBy,
  };
}

/**
 * A job's life in the log: queued with its inputs, then each output committed by it, then
 * succeeded with them.
 */
function jobLife(
  e: Emit,
  job: {
    id: string;
    runId: string;
    step: string;
    inputs: [string, number][];
    outputs: [string, number][];
  },
): StoredEvent[] {
  const by = {
    kind: 'job' as const,
    jobId: job.id,
    runId: job.runId,
    step: job.step,
    parameters: { EPOCHS: '3' },
    code: `code-of-${job.step}`,
  };
  return [
    e(
      'job.queued',
      job.id,
      queuedJob({
        runId: job.runId,
        name: job.step,
        env: { EPOCHS: '3' },
        ...(job.step === 'train' ? { quality: { metric: 'accuracy', goal: 'max' as const } } : {}),
        inputs: job.inputs.map(([fileset, version]) => ({
          fileset,
          version,
          manifestSha256: `sha-${fileset}-${version}`,
          path: `/in/${fileset}`,
        })),
      }),
    ),
    e('job.started', job.id, { executor: 'node-a', attempt: 1, pid: null }),
    ...job.outputs.map(([fileset, version]) =>
      e('fileset.version_committed', fileset, committed(version, by, 500)),
    ),
    e('job.succeeded', job.id, {
      exitCode: 0,
      durationMs: 4_000,
      outputs: job.outputs.map(([fileset, version]) => ({ fileset, version })),
      attempt: 1,
    }),
  ];
}

/**
 * The graph the specs walk, in `project`: mnist@1 uploaded; `etl` reads it and makes features@1;
 * `train` reads features@1 and mnist@1 (a shortcut: fan-in) and makes model@1; `eval` reads
 * model@1 and features@1 and makes report@1.
 */
function pipelineLog(project: string, firstSeq = 100): StoredEvent[] {
  const e = eventLog({ project, firstSeq });
  return [
    e('fileset.version_committed', 'mnist', committed(1, { kind: 'key', keyId: 'key-1' }, 9_000)),
    ...jobLife(e, {
      id: 'job-etl',
      runId: 'run-1',
      step: 'etl',
      inputs: [['mnist', 1]],
      outputs: [['features', 1]],
    }),
    ...jobLife(e, {
      id: 'job-train',
      runId: 'run-1',
      step: 'train',
      inputs: [
        ['features', 1],
        ['mnist', 1],
      ],
      outputs: [['model', 1]],
    }),
    ...jobLife(e, {
      id: 'job-eval',
      runId: 'run-2',
      step: 'eval',
      inputs: [
        ['model', 1],
        ['features', 1],
      ],
      outputs: [['report', 1]],
    }),
  ];
}

let schema: string;
let db: DataSource;
let drop: () => Promise<void> = () => Promise.resolve();
let projection: LineageProjection;
let repo: SqlLineageRepository;

beforeAll(async () => {
  ({ db, schema, drop } = await migratedSchema('it_lineage', [...lineageMigrations]));
  projection = new LineageProjection(schema);
  repo = new SqlLineageRepository(db, projection);
});

afterAll(async () => {
  await drop();
});

async function load(events: readonly StoredEvent[], batch = events.length): Promise<void> {
  for (let i = 0; i < events.length; i += batch) {
    await db.transaction((m) => projection.apply(m, events.slice(i, i + batch)));
  }
}

const A = 'proj-a';
const B = 'proj-b';
const edgeKey = (e: LineageEdge): string => `${e.from} -> ${e.to} (${e.kind})`;

/** Every page of a walk, followed cursor by cursor. */
async function allPages(
  project: string,
  start: string,
  direction: 'up' | 'down' | 'both',
  depth: number,
  limit: number,
) {
  const items = [];
  const edges: LineageEdge[] = [];
  let after = null;
  let pages = 0;
  do {
    const page = await repo.walk(project, start, direction, depth, limit, after);
    items.push(...page.items);
    edges.push(...page.edges);
    after = page.next;
    pages += 1;
  } while (after !== null && pages < 100);
  return { items, edges, pages };
}

describe('the lineage projection and its walks (real Postgres)', () => {
  beforeEach(async () => {
    await db.transaction((m) => projection.reset(m));
    await load([...pipelineLog(A), ...pipelineLog(B, 500)]);
    // Another project's job reads B's mnist@1 too: A must never see it.
    const eb = eventLog({ project: B, firstSeq: 900 });
    await load(
      jobLife(eb, {
        id: 'job-b-only',
        runId: 'run-b',
        step: 'secret-step',
        inputs: [['mnist', 1]],
        outputs: [['b-model', 1]],
      }),
    );
  });

  it('records versions with their manifest and maker, jobs with step, parameters, code, status and duration', async () => {
    expect(await repo.node(A, 'version:mnist@1')).toEqual({
      kind: 'version',
      id: 'version:mnist@1',
      fileset: 'mnist',
      version: 1,
      bytes: 9_000,
      files: 2,
      manifestSha256: 'sha-1-9000',
      createdBy: { kind: 'key', keyId: 'key-1' },
      evicted: false,
      pinned: false,
    });
    expect(await repo.node(A, 'version:features@1')).toMatchObject({
      createdBy: { kind: 'job', jobId: 'job-etl' },
      bytes: 500,
    });
    expect(await repo.node(A, 'job:job-train')).toEqual({
      kind: 'job',
      id: 'job:job-train',
      jobId: 'job-train',
      runId: 'run-1',
      step: 'train',
      command: ['node', 'train.js'],
      parameters: { EPOCHS: '3' },
      code: 'code-of-train',
      status: 'succeeded',
      durationMs: 4_000,
      reusedFrom: null,
    });
    // What the materializer weighs a model by, kept on the job that makes it.
    const rows = await db.query<{ id: string; quality: unknown }[]>(
      `SELECT id, quality FROM ${projection.nodes()} WHERE project = $1 AND quality IS NOT NULL`,
      [A],
    );
    expect(rows).toEqual([{ id: 'job:job-train', quality: { metric: 'accuracy', goal: 'max' } }]);
  });

  it('puts a reused job in the graph: it read its inputs and took the earlier job’s versions', async () => {
    const e = eventLog({ project: A, firstSeq: 4_000 });
    await load([
      e('job.reused', 'job-train-again', {
        runId: 'run-9',
        name: 'train',
        command: ['node', 'train.js'],
        env: { EPOCHS: '3' },
        inputs: [
          { fileset: 'features', version: 1, manifestSha256: 'sha-1-500', path: '/in/features' },
        ],
        outputs: [{ fileset: 'model', version: 1 }],
        signature: {
          sha256: 'a'.repeat(64),
          parts: {
            argv: ['node', 'train.js'],
            code: [],
            parameters: { EPOCHS: '3' },
            secrets: {},
            inputs: [],
            outputs: [{ fileset: 'model', path: 'outputs/model' }],
          },
          complete: true,
        },
        from: { jobId: 'job-train', runId: 'run-1', savedSeconds: 4, savedCost: null },
        reason: 'job job-train had the same signature',
      }),
    ]);
    expect(await repo.node(A, 'job:job-train-again')).toMatchObject({
      status: 'succeeded',
      step: 'train',
      reusedFrom: 'job-train',
      durationMs: null,
    });
    // The model stays made by the job that computed it.
    expect(await repo.node(A, 'version:model@1')).toMatchObject({
      createdBy: { kind: 'job', jobId: 'job-train' },
    });
    const up = await allPages(A, 'version:model@1', 'up', 1, 100);
    expect(up.items.map((n) => n.id)).toEqual(['job:job-train', 'job:job-train-again']);
    expect(up.edges.map(edgeKey)).toContain('job:job-train-again -> version:model@1 (reused)');
    const impact = await repo.impact(A, 'version:features@1', 50, 100, null);
    expect(impact.items.map((n) => n.id)).toContain('job:job-train-again');
  });

  it('walks down from an upload to every job and version made from it, each at its shortest depth, with the edges among them', async () => {
    const { items, edges } = await allPages(A, 'version:mnist@1', 'down', 10, 100);
    expect(items.map((n) => [n.id, n.depth])).toEqual([
      ['job:job-etl', 1],
      ['job:job-train', 1],
      ['version:features@1', 2],
      ['version:model@1', 2],
      ['job:job-eval', 3],
      ['version:report@1', 4],
    ]);
    expect(edges.map(edgeKey).sort()).toEqual(
      [
        'job:job-etl -> version:features@1 (output)',
        'job:job-eval -> version:report@1 (output)',
        'job:job-train -> version:model@1 (output)',
        'version:features@1 -> job:job-eval (input)',
        'version:features@1 -> job:job-train (input)',
        'version:mnist@1 -> job:job-etl (input)',
        'version:mnist@1 -> job:job-train (input)',
        'version:model@1 -> job:job-eval (input)',
      ].sort(),
    );
  });

  it('stops at the depth asked for', async () => {
    const one = await allPages(A, 'version:mnist@1', 'down', 1, 100);
    expect(one.items.map((n) => n.id)).toEqual(['job:job-etl', 'job:job-train']);
    expect(one.edges.map(edgeKey).sort()).toEqual([
      'version:mnist@1 -> job:job-etl (input)',
      'version:mnist@1 -> job:job-train (input)',
    ]);
    const three = await allPages(A, 'version:mnist@1', 'down', 3, 100);
    expect(three.items.map((n) => n.id)).not.toContain('version:report@1');
    expect(three.items.map((n) => n.id)).toContain('job:job-eval');
  });

  it('walks up from a model to the upload it came from', async () => {
    const { items } = await allPages(A, 'version:model@1', 'up', 10, 100);
    expect(items.map((n) => [n.id, n.depth])).toEqual([
      ['job:job-train', 1],
      ['version:features@1', 2],
      ['version:mnist@1', 2],
      ['job:job-etl', 3],
    ]);
  });

  it('walks both ways from a job', async () => {
    const { items } = await allPages(A, 'job:job-train', 'both', 10, 100);
    expect(items.map((n) => n.id).sort()).toEqual(
      [
        'job:job-etl',
        'job:job-eval',
        'version:features@1',
        'version:mnist@1',
        'version:model@1',
        'version:report@1',
      ].sort(),
    );
  });

  it('pages in a stable order: the pages together are the whole walk, each edge once', async () => {
    const whole = await allPages(A, 'version:mnist@1', 'down', 10, 500);
    const paged = await allPages(A, 'version:mnist@1', 'down', 10, 2);
    expect(paged.pages).toBe(3);
    expect(paged.items).toEqual(whole.items);
    expect(paged.edges.map(edgeKey).sort()).toEqual(whole.edges.map(edgeKey).sort());
    expect(new Set(paged.edges.map(edgeKey)).size).toBe(paged.edges.length);
  });

  it('keeps projects apart: the same file set name in another project is another graph', async () => {
    expect(await repo.node(A, 'job:job-b-only')).toBeUndefined();
    const a = await allPages(A, 'version:mnist@1', 'down', 50, 100);
    expect(a.items.map((n) => n.id)).not.toContain('job:job-b-only');
    expect(a.items).toHaveLength(6);
    const b = await allPages(B, 'version:mnist@1', 'down', 50, 100);
    expect(b.items.map((n) => n.id)).toContain('job:job-b-only');
    expect((await repo.impact(A, 'version:mnist@1', 50, 100, null)).jobs).toBe(3);
    expect((await repo.impact(B, 'version:mnist@1', 50, 100, null)).jobs).toBe(4);
  });

  it('lists what depends on a version in an order that recomputes each job after those it reads from', async () => {
    const impact = await repo.impact(A, 'version:mnist@1', 50, 100, null);
    expect({ jobs: impact.jobs, versions: impact.versions }).toEqual({ jobs: 3, versions: 3 });
    expect(impact.items.map((n) => [n.id, n.level])).toEqual([
      ['job:job-etl', 1],
      ['version:features@1', 2],
      // train reads mnist@1 directly (depth 1) but also features@1, made by etl: after etl.
      ['job:job-train', 3],
      ['version:model@1', 4],
      ['job:job-eval', 5],
      ['version:report@1', 6],
    ]);
    const first = await repo.impact(A, 'version:mnist@1', 50, 4, null);
    const rest = await repo.impact(A, 'version:mnist@1', 50, 4, first.next);
    expect([...first.items, ...rest.items]).toEqual(impact.items);
    expect(rest.next).toBeNull();
    expect(rest.jobs).toBe(3);
  });

  it('answers the same graph when the same events are applied again, one by one or in a batch', async () => {
    const snapshot = async () => ({
      nodes: await db.query<unknown[]>(`SELECT * FROM ${projection.nodes()} ORDER BY project, id`),
      edges: await db.query<unknown[]>(
        `SELECT * FROM ${projection.edges()} ORDER BY project, src, dst`,
      ),
    });
    const before = await snapshot();
    expect(before.nodes).toHaveLength(2 * 7 + 2);
    expect(before.edges).toHaveLength(2 * 8 + 2);
    await load(pipelineLog(A));
    expect(await snapshot()).toEqual(before);
    await db.transaction((m) => projection.reset(m));
    await load([...pipelineLog(A), ...pipelineLog(B, 500)], 1);
    await load(
      jobLife(eventLog({ project: B, firstSeq: 900 }), {
        id: 'job-b-only',
        runId: 'run-b',
        step: 'secret-step',
        inputs: [['mnist', 1]],
        outputs: [['b-model', 1]],
      }),
      1,
    );
    expect(await snapshot()).toEqual(before);
  });

  it('marks an evicted version, a pinned one, and does not put a job the log only skipped in the graph', async () => {
    const e = eventLog({ project: A, firstSeq: 2_000 });
    await load([
      e('fileset.version_pinned', 'model', { version: 1, pinned: true }),
      e('fileset.version_pinned', 'report', { version: 1, pinned: true }),
      e('fileset.version_pinned', 'report', { version: 1, pinned: false }),
      e('fileset.version_evicted', 'features', { version: 1, reason: 'lru' }),
      e('job.skipped', 'job-never-queued', { reason: 'etl failed', step: 'etl' }),
    ]);
    expect(await repo.node(A, 'version:features@1')).toMatchObject({ evicted: true });
    expect(await repo.node(A, 'version:model@1')).toMatchObject({ pinned: true });
    expect(await repo.node(A, 'version:report@1')).toMatchObject({ pinned: false });
    expect(await repo.node(B, 'version:model@1')).toMatchObject({ pinned: false });
    expect(await repo.node(A, 'job:job-never-queued')).toBeUndefined();
  });

  it('ends a walk at its depth even on a cycle the log cannot make', async () => {
    await db.query(
      `INSERT INTO ${projection.edges()} (project, src, dst, kind, seq)
       VALUES ($1, 'version:report@1', 'job:job-etl', 'input', 1)`,
      [A],
    );
    const { items } = await allPages(A, 'version:mnist@1', 'down', 50, 100);
    expect(items).toHaveLength(6);
    const impact = await repo.impact(A, 'version:mnist@1', 50, 100, null);
    expect(impact.jobs).toBe(3);
    expect(Math.max(...impact.items.map((n) => n.level))).toBe(50);
  });

  it('builds a replay beside the live graph, which answers as before until the swap', async () => {
    const replica = projection.replica();
    const e = eventLog({ project: A, firstSeq: 3_000 });
    const extra = jobLife(e, {
      id: 'job-more',
      runId: 'run-3',
      step: 'more',
      inputs: [['report', 1]],
      outputs: [['more', 1]],
    });
    await db.transaction(async (m) => {
      await replica.reset(m);
      await replica.apply(m, [...pipelineLog(A), ...extra]);
    });
    expect(await repo.node(A, 'job:job-more')).toBeUndefined();
    expect(await repo.node(B, 'job:job-b-only')).toBeDefined();
    await db.transaction((m) => replica.promote(m));
    expect(await repo.node(A, 'job:job-more')).toMatchObject({ status: 'succeeded' });
    expect(await repo.node(B, 'job:job-b-only')).toBeUndefined();
    const rows = await db.query<{ t: string | null }[]>(`SELECT to_regclass($1) AS t`, [
      `"${schema}".lineage_nodes_replay`,
    ]);
    expect(rows[0]?.t).toBeNull();
  });
});
