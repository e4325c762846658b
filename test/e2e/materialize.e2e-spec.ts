import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startSystem, type TestSystem } from '../support/system.js';

interface Submitted {
  id: string;
  jobs: { id: string; name: string }[];
}
interface Budget {
  budgetBytes: number | null;
  derivedBytes: number;
  derivedVersions: number;
  evictedVersions: number;
}
interface VersionView {
  version: number;
  evicted: boolean;
  bytes: number;
}

/**
 * The materializer through the gateway, on the real stack: a project's storage budget keeps the
 * derived artifacts of highest utility and evicts the rest through the catalog, with the decision
 * in the log; uploaded data is never evicted; a step whose earlier output was evicted is computed
 * again rather than reused.
 */
describe('storage budgets and the materializer', () => {
  let system: TestSystem;

  beforeAll(async () => {
    system = await startSystem();
  });

  afterAll(async () => {
    await system?.close();
  });

  /** `prep` (slow: 1.5 s) makes `mat-features`; `fit` (quick) makes `mat-model` from it. */
  const spec = (seed: string) => ({
    name: 'materialize',
    steps: [
      {
        name: 'prep',
        command: [
          'sh',
          '-c',
          'sleep 1.5; mkdir -p outputs/mat-features; head -c 4000 /dev/zero > outputs/mat-features/f; echo $SEED >> outputs/mat-features/f',
        ],
        env: { SEED: seed },
        inputs: [{ fileset: 'mat-raw' }],
        outputs: [{ fileset: 'mat-features' }],
      },
      {
        name: 'fit',
        command: [
          'sh',
          '-c',
          // Its seed in it: the two runs' models differ (the same content would be stored, and
          // counted against the budget, once).
          'mkdir -p outputs/mat-model; head -c 4000 /dev/zero > outputs/mat-model/m; echo $SEED >> outputs/mat-model/m; echo "##acai metric accuracy=0.9"',
        ],
        env: { SEED: seed },
        inputs: [{ step: 'prep', output: 'mat-features' }],
        outputs: [{ fileset: 'mat-model' }],
        quality: { metric: 'accuracy' },
      },
    ],
  });

  async function run(body: unknown): Promise<Submitted> {
    const r = await system.api('POST', '/api/v1/runs', body);
    expect(r.status).toBe(202);
    const submitted = r.body as Submitted;
    expect((await system.waitForRun(submitted.id)).status).toBe('succeeded');
    return submitted;
  }

  async function versions(fileset: string): Promise<VersionView[]> {
    const r = await system.api('GET', `/api/v1/filesets/${fileset}`);
    expect(r.status).toBe(200);
    return (r.body as { versions: VersionView[] }).versions;
  }

  let firstRun: Submitted;

  it('keeps everything without a budget', async () => {
    const content = Buffer.from('raw data\n');
    const { createHash } = await import('node:crypto');
    const sha = createHash('sha256').update(content).digest('hex');
    await system.upload(content, sha);
    expect((await system.api('POST', '/api/v1/filesets', { name: 'mat-raw' })).status).toBe(201);
    const commit = await system.api('POST', '/api/v1/filesets/mat-raw/versions', {
      parent: 0,
      put: [{ path: 'raw.txt', sha256: sha }],
    });
    expect(commit.status).toBe(201);
    firstRun = await run(spec('1'));
    await run(spec('2'));
    const r = await system.api('GET', '/api/v1/projects/default/storage-budget');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ budgetBytes: null, derivedVersions: 4, evictedVersions: 0 });
  });

  it('shows a run as an experiment graph: operations, and artifacts with what they are worth', async () => {
    const r = await system.api('GET', `/api/v1/experiment-graph?run=${firstRun.id}`);
    expect(r.status).toBe(200);
    const graph = r.body as {
      operations: { step: string; inputs: string[]; outputs: string[] }[];
      artifacts: {
        id: string;
        madeBy: string | null;
        computeSeconds: number | null;
        loadSeconds: number | null;
        reads: number;
        quality: number | null;
      }[];
    };
    expect(graph.operations.map((o) => [o.step, o.inputs, o.outputs])).toEqual([
      ['prep', ['version:mat-raw@1'], ['version:mat-features@1']],
      ['fit', ['version:mat-features@1'], ['version:mat-model@1']],
    ]);
    const by = Object.fromEntries(graph.artifacts.map((a) => [a.id, a]));
    // Uploaded: source data, made by no job; read by both runs' prep.
    expect(by['version:mat-raw@1']).toMatchObject({ madeBy: null, computeSeconds: null, reads: 2 });
    expect(by['version:mat-features@1']!.computeSeconds).toBeGreaterThanOrEqual(1.5);
    // Load times, as the executors staging them measured: what a version read costs to put in
    // place; the model nobody read has none.
    expect(by['version:mat-raw@1']!.loadSeconds).toEqual(expect.any(Number));
    expect(by['version:mat-features@1']!.loadSeconds).toEqual(expect.any(Number));
    expect(by['version:mat-model@1']!.loadSeconds).toBeNull();
    // It leads to the model fit made, whose step names accuracy as its quality.
    expect(by['version:mat-features@1']).toMatchObject({ reads: 1, quality: 0.9 });
    expect(by['version:mat-model@1']).toMatchObject({ reads: 0, quality: 0.9 });
    expect(
      (await system.api('GET', '/api/v1/experiment-graph?run=run-00000000000000000000000')).status,
    ).toBe(404);
    expect((await system.api('GET', '/api/v1/experiment-graph?run=nope')).status).toBe(400);
  });

  it('refuses a budget that is not a number of bytes, naming the field', async () => {
    const r = await system.api('PUT', '/api/v1/projects/default/storage-budget', { bytes: -1 });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body)).toContain('bytes');
  });

  it('evicts the derived artifacts of lowest utility beyond the budget, saying why', async () => {
    const before = (await system.api('GET', '/api/v1/projects/default/storage-budget'))
      .body as Budget;
    // Room for all but the two models (4,000 B each).
    const r = await system.api('PUT', '/api/v1/projects/default/storage-budget', {
      bytes: before.derivedBytes - 2 * 4_000,
    });
    expect(r.status).toBe(200);
    const after = r.body as Budget;
    expect(after.evictedVersions).toBe(2);
    expect(after.derivedBytes).toBeLessThanOrEqual(after.budgetBytes!);
    // The quick, unused models go first; the slow features the models need are kept.
    expect((await versions('mat-model')).map((v) => v.evicted)).toEqual([true, true]);
    expect((await versions('mat-features')).map((v) => v.evicted)).toEqual([false, false]);
    // Uploaded data is source data: never a candidate.
    expect((await versions('mat-raw')).map((v) => v.evicted)).toEqual([false]);
  });

  it('computes a step again when the output it would reuse was evicted', async () => {
    const again = await run(spec('2'));
    const history = async (name: string) =>
      (
        await system.api(
          'GET',
          `/api/v1/jobs/${again.jobs.find((j) => j.name === name)!.id}/history`,
        )
      ).body as { type: string; data: { reuse?: { reason: string } } }[];
    // prep's features are intact: reused; fit's model was evicted: computed, saying so.
    expect((await history('prep')).map((e) => e.type)).toEqual(['job.reused']);
    const fit = await history('fit');
    expect(fit.map((e) => e.type)).toContain('job.started');
    expect(fit.find((e) => e.type === 'job.queued')?.data.reuse?.reason).toMatch(
      /is not intact \(mat-model@\d+: it was evicted/,
    );
  });
});
