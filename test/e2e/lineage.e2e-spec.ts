import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ImpactView, LineageView, ProjectionView } from '@acai/contracts';
import { eventually } from '@acai/testkit';
import { startSystem, type TestSystem } from '../support/system.js';

describe('lineage and impact through the gateway', () => {
  let system: TestSystem;
  let etl: string;
  let train: string;

  beforeAll(async () => {
    system = await startSystem();
    // An upload, then a two-step pipeline: etl reads it and makes features, train makes a model.
    expect((await system.api('POST', '/api/v1/filesets', { name: 'mnist' })).status).toBe(201);
    const content = '0,1,2\n';
    const sha = createHash('sha256').update(content).digest('hex');
    expect((await system.upload(content, sha)).status).toBe(201);
    const commit = await system.api('POST', '/api/v1/filesets/mnist/versions', {
      parent: 0,
      put: [{ path: 'train.csv', sha256: sha }],
    });
    expect(commit.status).toBe(201);
    const submitted = await system.api('POST', '/api/v1/runs', pipeline);
    expect(submitted.status).toBe(202);
    const { id, jobs } = submitted.body as { id: string; jobs: { id: string; name: string }[] };
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

  const lineage = async (query: string) => {
    const r = await system.api('GET', `/api/v1/lineage?${query}`);
    expect(r.status).toBe(200);
    return r.body as LineageView;
  };

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
    const r = await system.api('GET', '/api/v1/lineage/impact?fileset=mnist&version=1');
    expect(r.status).toBe(200);
    const impact = r.body as ImpactView;
    expect({ jobs: impact.jobs, versions: impact.versions }).toEqual({ jobs: 2, versions: 2 });
    expect(impact.items.filter((n) => n.kind === 'job').map((n) => n.id)).toEqual([
      `job:${etl}`,
      `job:${train}`,
    ]);
  });

  it('answers 404 for a start the project does not have, 400 naming a bad parameter', async () => {
    const missing = await system.api('GET', '/api/v1/lineage?fileset=mnist&version=9');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ reason: 'LINEAGE_START_NOT_FOUND' });
    expect(JSON.stringify(missing.body)).toContain('mnist@9');
    const depth = await system.api('GET', '/api/v1/lineage?fileset=mnist&version=1&depth=51');
    expect(depth.status).toBe(400);
    expect(JSON.stringify(depth.body)).toContain('depth');
    const noVersion = await system.api('GET', '/api/v1/lineage?fileset=mnist');
    expect(noVersion.status).toBe(400);
    expect(JSON.stringify(noVersion.body)).toContain('version');
    const cursor = await system.api(
      'GET',
      '/api/v1/lineage/impact?fileset=mnist&version=1&cursor=x',
    );
    expect(cursor.status).toBe(400);
    expect(cursor.body).toMatchObject({ reason: 'LINEAGE_CURSOR_INVALID' });
  });

  it('never shows one project’s lineage to a key of another', async () => {
    const created = await system.api('POST', '/api/v1/projects', { name: 'stranger' });
    expect(created.status).toBe(201);
    const key = (created.body as { key: string }).key;
    const r = await system.api('GET', '/api/v1/lineage?fileset=mnist&version=1', undefined, key);
    expect(r.status).toBe(404);
    expect(r.body).toMatchObject({ reason: 'LINEAGE_START_NOT_FOUND' });
    const byJob = await system.api('GET', `/api/v1/lineage?job=${etl}`, undefined, key);
    expect(byJob.status).toBe(404);
    expect(byJob.body).toMatchObject({ reason: 'LINEAGE_START_NOT_FOUND' });
    const impact = await system.api(
      'GET',
      '/api/v1/lineage/impact?fileset=mnist&version=1',
      undefined,
      key,
    );
    expect(impact.status).toBe(404);
  });

  it('shows the jobs of a run that reused the first run’s results, and what they took', async () => {
    const again = await system.api('POST', '/api/v1/runs', { ...pipeline, name: 'again' });
    const { id, jobs } = again.body as { id: string; jobs: { id: string; name: string }[] };
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
    const replay = await system.api('POST', '/api/v1/projections/lineage/replay');
    expect(replay.status).toBe(202);
    const done = await eventually('the replay of lineage to be swapped in', async () => {
      expect(await lineage('fileset=mnist&version=1&direction=down')).toEqual(before);
      const view = await system.api('GET', '/api/v1/projections/lineage');
      const { replay: status } = view.body as ProjectionView;
      return status?.status === 'succeeded' ? status : undefined;
    });
    expect(done.documents).toBeGreaterThan(0);
    expect(await lineage('fileset=mnist&version=1&direction=down')).toEqual(before);
  });
});
