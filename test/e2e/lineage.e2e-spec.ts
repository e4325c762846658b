import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AcaiApiError, type AcaiClient, type Query } from '@acai/sdk';
import { eventually } from '@acai/testkit';
import { startSystem, type TestSystem } from '../support/system.js';

/** A query string as the SDK's query. */
const queryOf = (text: string): Query => Object.fromEntries(new URLSearchParams(text));

describe('lineage and impact through the gateway', () => {
  let system: TestSystem;
  let acai: AcaiClient;
  let etl: string;
  let train: string;

  beforeAll(async () => {
    system = await startSystem();
    acai = system.client();
    // An upload, then a two-step pipeline: etl reads it and makes features, train makes a model.
    await acai.createFileset({ name: 'mnist' });
    const content = '0,1,2\n';
    const sha = createHash('sha256').update(content).digest('hex');
    expect((await system.upload(content, sha)).status).toBe(201);
    const commit = await acai.commitVersion('mnist', {
      parent: 0,
      put: [{ path: 'train.csv', sha256: sha }],
    });
    expect(commit.version).toBe(1);
    const { id, jobs } = await acai.submitRun(pipeline);
    expect((await system.waitForRun(id)).status).toBe('succeeded');
    etl = jobs.find((j) => j.name === 'etl')!.id;
    train = jobs.find((j) => j.name === 'train')!.id;
  });

  const pipeline = {
    name: 'pipeline',
    steps: [
      {
        name: 'etl',
        command: ['sh', '-c', 'cp "$ACAI_INPUT_MNIST/train.csv" "$ACAI_OUTPUT_FEATURES/f.csv"'],
        inputs: [{ fileset: 'mnist', version: 1 }],
        outputs: [{ fileset: 'features' }],
      },
      {
        name: 'train',
        command: ['sh', '-c', 'wc -l "$ACAI_INPUT_FEATURES/f.csv" > "$ACAI_OUTPUT_MODEL/m.txt"'],
        needs: ['etl'],
        env: { EPOCHS: '2' },
        inputs: [{ fileset: 'features' }],
        outputs: [{ fileset: 'model' }],
      },
    ],
  };

  afterAll(async () => {
    await system?.close();
  });

  const lineage = (query: string) => acai.getLineage(queryOf(query));
  /** The refusal of a call that must fail. */
  const refusal = (call: Promise<unknown>) =>
    call.then(
      () => {
        throw new Error('expected the call to be refused');
      },
      (e: unknown) => {
        expect(e).toBeInstanceOf(AcaiApiError);
        return e as AcaiApiError;
      },
    );

  it('walks down from the uploaded version to both jobs and both versions they made', async () => {
    const down = await lineage('fileset=mnist&version=1&direction=down');
    expect(down.start).toMatchObject({ kind: 'version', id: 'version:mnist@1', fileset: 'mnist' });
    expect(down.items.map((n) => [n.id, n.depth])).toEqual([
      [`job:${etl}`, 1],
      ['version:features@1', 2],
      [`job:${train}`, 3],
      ['version:model@1', 4],
    ]);
    expect(down.items[2]).toMatchObject({
      kind: 'job',
      step: 'train',
      status: 'succeeded',
      parameters: expect.objectContaining({ EPOCHS: '2' }),
    });
    expect(down.edges).toHaveLength(4);
    expect(down.nextCursor).toBeNull();

    // A page at a time: the same walk.
    const first = await lineage('fileset=mnist&version=1&limit=3');
    expect(first.items).toHaveLength(3);
    const rest = await lineage(
      `fileset=mnist&version=1&limit=3&cursor=${encodeURIComponent(first.nextCursor!)}`,
    );
    expect([...first.items, ...rest.items]).toEqual(down.items);
  });

  it('walks up from the model to the upload, and both ways from a job', async () => {
    const up = await lineage('fileset=model&version=1&direction=up&depth=50');
    expect(up.items.map((n) => n.id)).toEqual([
      `job:${train}`,
      'version:features@1',
      `job:${etl}`,
      'version:mnist@1',
    ]);
    expect(up.items.at(-1)).toMatchObject({ createdBy: { kind: 'key' } });
    const both = await lineage(`job=${train}&direction=both&depth=1`);
    expect(both.items.map((n) => n.id).sort()).toEqual(['version:features@1', 'version:model@1']);
  });

  it('lists what depends on the upload, the jobs in the order to recompute them', async () => {
    const impact = await acai.getImpact({ fileset: 'mnist', version: 1 });
    expect({ jobs: impact.jobs, versions: impact.versions }).toEqual({ jobs: 2, versions: 2 });
    expect(impact.items.filter((n) => n.kind === 'job').map((n) => n.id)).toEqual([
      `job:${etl}`,
      `job:${train}`,
    ]);
  });

  it('answers 404 for a start the project does not have, 400 naming a bad parameter', async () => {
    const missing = await refusal(lineage('fileset=mnist&version=9'));
    expect(missing).toMatchObject({ status: 404, reason: 'LINEAGE_START_NOT_FOUND' });
    expect(JSON.stringify(missing.problem)).toContain('mnist@9');
    const depth = await refusal(lineage('fileset=mnist&version=1&depth=51'));
    expect(depth.status).toBe(400);
    expect(JSON.stringify(depth.problem)).toContain('depth');
    const noVersion = await refusal(lineage('fileset=mnist'));
    expect(noVersion.status).toBe(400);
    expect(JSON.stringify(noVersion.problem)).toContain('version');
    const cursor = await refusal(acai.getImpact({ fileset: 'mnist', version: 1, cursor: 'x' }));
    expect(cursor).toMatchObject({ status: 400, reason: 'LINEAGE_CURSOR_INVALID' });
  });

  it('never shows one project’s lineage to a key of another', async () => {
    const { key } = await acai.createProject('stranger');
    const theirs = system.client(key);
    expect(await refusal(theirs.getLineage({ fileset: 'mnist', version: 1 }))).toMatchObject({
      status: 404,
      reason: 'LINEAGE_START_NOT_FOUND',
    });
    expect(await refusal(theirs.getLineage({ job: etl }))).toMatchObject({
      status: 404,
      reason: 'LINEAGE_START_NOT_FOUND',
    });
    expect((await refusal(theirs.getImpact({ fileset: 'mnist', version: 1 }))).status).toBe(404);
  });

  it('shows the jobs of a run that reused the first run’s results, and what they took', async () => {
    const { id, jobs } = await acai.submitRun({ ...pipeline, name: 'again' });
    expect((await system.waitForRun(id)).status).toBe('succeeded');
    const reusedTrain = jobs.find((j) => j.name === 'train')!.id;
    const up = await lineage('fileset=model&version=1&direction=up&depth=1');
    expect(up.items.map((n) => n.id).sort()).toEqual([`job:${reusedTrain}`, `job:${train}`].sort());
    expect(up.items.find((n) => n.id === `job:${reusedTrain}`)).toMatchObject({
      status: 'succeeded',
      reusedFrom: train,
    });
    expect(up.edges).toContainEqual({
      from: `job:${reusedTrain}`,
      to: 'version:model@1',
      kind: 'reused',
    });
  });

  it('is rebuilt by a replay beside the live graph, which answers the same throughout', async () => {
    const before = await lineage('fileset=mnist&version=1&direction=down');
    await acai.replayProjection('lineage');
    const done = await eventually('the replay of lineage to be swapped in', async () => {
      expect(await lineage('fileset=mnist&version=1&direction=down')).toEqual(before);
      const { replay: status } = await acai.getProjection('lineage');
      return status?.status === 'succeeded' ? status : undefined;
    });
    expect(done.documents).toBeGreaterThan(0);
    expect(await lineage('fileset=mnist&version=1&direction=down')).toEqual(before);
  });
});
