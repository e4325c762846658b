import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ProjectionView } from '@acai/contracts';
import { eventually } from '@acai/testkit';
import { startSystem, type TestSystem } from '../support/system.js';

describe('replaying projections', () => {
  let system: TestSystem;

  beforeAll(async () => {
    system = await startSystem();
  });

  afterAll(async () => {
    await system?.close();
  });

  it('rebuilds job history identical to the one before', async () => {
    const runs: { id: string; jobs: { id: string }[] }[] = [];
    for (const command of [['true'], ['false'], ['echo', 'x']]) {
      const r = await system.api('POST', '/api/v1/runs', {
        name: 'r',
        steps: [
          { name: 'a', command },
          { name: 'b', command: ['true'], needs: ['a'] },
        ],
      });
      runs.push(r.body as { id: string; jobs: { id: string }[] });
    }
    // A sweep, whose trials report metrics, for the run-trials view.
    const swept = await system.api('POST', '/api/v1/runs', {
      name: 's',
      steps: [
        {
          name: 'trial',
          command: ['sh', '-c', 'echo "##acai metric loss=$L step=1"'],
          sweep: { list: [{ L: '1' }, { L: '2' }], objective: { metric: 'loss', mode: 'min' } },
        },
      ],
    });
    runs.push(swept.body as { id: string; jobs: { id: string }[] });
    for (const run of runs) await system.waitForRun(run.id);

    const snapshot = async () => {
      const views: unknown[] = [];
      for (const run of runs) {
        views.push((await system.api('GET', `/api/v1/runs/${run.id}`)).body);
        views.push((await system.api('GET', `/api/v1/runs/${run.id}/trials`)).body);
        views.push((await system.api('GET', `/api/v1/runs/${run.id}/timeline`)).body);
        views.push((await system.api('GET', `/api/v1/experiment-graph?run=${run.id}`)).body);
        for (const job of run.jobs) {
          views.push((await system.api('GET', `/api/v1/jobs/${job.id}`)).body);
          views.push((await system.api('GET', `/api/v1/jobs/${job.id}/history`)).body);
          views.push((await system.api('GET', `/api/v1/jobs/${job.id}/reuse`)).body);
        }
      }
      return views;
    };
    const before = await snapshot();
    expect(JSON.stringify(before)).toContain('job.failed');
    expect(JSON.stringify(before)).toContain('"best":{"name":"trial#1"');
    expect(JSON.stringify(before)).toContain('"type":"job.provisioned"');

    for (const name of [
      'job-history',
      'jobs',
      'runs',
      'run-trials',
      'job-metrics',
      'run-timeline',
      'job-signatures',
      'lineage',
    ]) {
      const replay = await system.api('POST', `/api/v1/projections/${name}/replay`);
      expect(replay.status).toBe(202);
      expect(replay.body).toMatchObject({ projection: name, status: 'running' });
      // Readers see the whole live model while the replay is built, and the same one after.
      const done = await eventually(`the replay of ${name} to be swapped in`, async () => {
        expect(await snapshot()).toEqual(before);
        const view = await system.api('GET', `/api/v1/projections/${name}`);
        expect(view.status).toBe(200);
        const { replay: status } = view.body as { replay: { status: string } | null };
        return status?.status === 'succeeded' ? (view.body as ProjectionView) : undefined;
      });
      expect(done.replay!.done).toBe(done.replay!.total);
      expect(done.lastSeq).toBeGreaterThanOrEqual(done.replay!.done);
      if (name !== 'job-metrics') expect(done.replay!.documents).toBeGreaterThan(0);
    }
    expect(await snapshot()).toEqual(before);

    const unknown = await system.api('POST', '/api/v1/projections/nope/replay');
    expect(unknown.status).toBe(404);
  });
});
