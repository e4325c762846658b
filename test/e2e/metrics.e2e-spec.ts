import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { eventually } from '@acai/testkit';
import { startSystem, type TestSystem } from '../support/system.js';

interface Series {
  series: Record<string, { step: number | null; value: number; attempt: number }[]>;
}

describe('job metrics', () => {
  let system: TestSystem;

  beforeAll(async () => {
    system = await startSystem();
  });

  afterAll(async () => {
    await system?.close();
  });

  it('turns the metric lines a job prints into events and series you can query', async () => {
    const script = [
      'echo "##acai metric loss=1.0 step=1"',
      'echo "##acai metric loss=0.5 accuracy=0.8 step=2"',
      'echo "##acai metric loss=0.25 step=3"',
      'echo \'##acai metric {"name":"val/accuracy","value":0.9}\'',
      'echo "##acai metric loss=lots"',
      'echo done',
    ].join('; ');
    const submitted = await system.api('POST', '/api/v1/runs', {
      name: 'metrics',
      steps: [{ name: 'train', command: ['sh', '-c', script] }],
    });
    const { id, jobs } = submitted.body as { id: string; jobs: { id: string }[] };
    expect((await system.waitForRun(id)).status).toBe('succeeded');
    const jobId = jobs[0]!.id;

    const all = await eventually('the metrics to be projected', async () => {
      const r = await system.api('GET', `/api/v1/jobs/${jobId}/metrics`);
      const body = r.body as Series;
      return body.series?.['val/accuracy'] !== undefined ? body : undefined;
    });
    expect(all.series['loss']!.map((p) => [p.step, p.value])).toEqual([
      [1, 1],
      [2, 0.5],
      [3, 0.25],
    ]);
    expect(all.series['accuracy']!.map((p) => p.value)).toEqual([0.8]);
    expect(all.series['val/accuracy']![0]).toEqual(
      expect.objectContaining({ step: null, value: 0.9, attempt: 1 }),
    );

    const one = await system.api('GET', `/api/v1/jobs/${jobId}/metrics?name=loss`);
    expect(Object.keys((one.body as Series).series)).toEqual(['loss']);

    const history = (await system.api('GET', `/api/v1/jobs/${jobId}/history`)).body as {
      type: string;
    }[];
    const types = history.map((e) => e.type);
    expect(types).toContain('job.metrics_reported');
    expect(types.indexOf('job.metrics_reported')).toBeLessThan(types.indexOf('job.succeeded'));

    const logs = await system.api('GET', `/api/v1/jobs/${jobId}/logs`);
    expect(logs.text).toContain('acai: ignored a metric line (loss is not a number)');
  });

  it('shows another project nothing', async () => {
    const other = (
      (await system.api('POST', '/api/v1/projects', { name: 'metrics-other' })).body as {
        key: string;
      }
    ).key;
    const submitted = await system.api('POST', '/api/v1/runs', {
      name: 'm',
      steps: [{ name: 't', command: ['sh', '-c', 'echo "##acai metric x=1"'] }],
    });
    const { id, jobs } = submitted.body as { id: string; jobs: { id: string }[] };
    await system.waitForRun(id);
    const r = await system.api('GET', `/api/v1/jobs/${jobs[0]!.id}/metrics`, undefined, other);
    expect(r.status).toBe(404);
  });
});
