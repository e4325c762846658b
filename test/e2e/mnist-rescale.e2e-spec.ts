import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { EventData, HistoryEntry, RunView } from '@acai/contracts';
import { eventually } from '@acai/testkit';
import { importMnist, startSystem, type TestSystem } from '../support/system.js';

const examples = path.resolve(import.meta.dirname, '../../examples');

/**
 * SMLT's rescaling on the local provider, for real: MNIST training started on 1 CPU under a
 * deadline its measured pace misses is asked to checkpoint, stopped, and resumed from its
 * checkpoint on 2 CPUs, where it trains to the end. Whether the deadline is then met depends on
 * the machine's load; the `scheduling` benchmark measures that. This proves the mechanism: the
 * decision from the measured pace, with the prediction and measurements in the log, the stop, the
 * move and the resume.
 */
describe('the MNIST example under a deadline its first configuration misses', () => {
  let system: TestSystem;

  beforeAll(async () => {
    system = await startSystem();
    expect((await importMnist(system)).code).toBe(0);
  });

  afterAll(async () => {
    await system?.close();
  });

  it('moves training from 1 CPU to 2 CPUs while it runs, resuming from its checkpoint', async () => {
    const spec = JSON.parse(
      (await readFile(path.join(examples, 'mnist/run.json'), 'utf8')).replaceAll(
        '{{examples}}',
        await system.examples(),
      ),
    ) as { steps: Record<string, unknown>[]; deadline?: string };
    // Trained as requested on 1 CPU (no profiling), long enough to be measured and moved: about
    // 1.5 s an epoch here. Its share of a 30 s deadline is what is left after etl, halved with
    // evaluate's: well short of 16 epochs on 1 CPU.
    for (const step of spec.steps) {
      if (step['name'] !== 'train') continue;
      delete step['provision'];
      step['resources'] = { cpu: 1, memoryMb: 768 };
      step['env'] = { ...(step['env'] as Record<string, string>), EPOCHS: '16' };
    }
    spec.deadline = '30s';
    const submitted = await system.api('POST', '/api/v1/runs', spec);
    expect(submitted.status).toBe(202);
    const { id, jobs } = submitted.body as { id: string; jobs: { id: string; name: string }[] };
    const train = jobs.find((j) => j.name === 'train')!;

    // While it runs, the run says when each running job should end against its share.
    const running = await eventually(
      'the run to show train’s predicted finish against its share',
      async () => {
        const run = (await system.api('GET', `/api/v1/runs/${id}`)).body as RunView;
        const job = run.limits?.running?.find((r) => r.jobId === train.id);
        return job?.predictedFinish != null ? job : undefined;
      },
      120_000,
    );
    expect(running.finishBy).not.toBeNull();

    const run = await system.waitForRun(id, system.key, 300_000);
    expect(run.status).toBe('succeeded');

    const history = (await system.api('GET', `/api/v1/jobs/${train.id}/history`))
      .body as HistoryEntry[];
    const types = history.map((e) => e.type);
    const requested = history.find((e) => e.type === 'job.rescale_requested')
      ?.data as EventData<'job.rescale_requested'>;
    expect(requested).toBeDefined();
    expect(requested).toMatchObject({
      attempt: 1,
      direction: 'up',
      from: { provider: 'local', vCpu: 1 },
      to: { provider: 'local', vCpu: 2 },
      graceSeconds: 30,
    });
    expect(requested.finishBy).not.toBeNull();
    expect(requested.measurements.totalSteps).toBe(16);
    expect(requested.measurements.stepsPerSecond).toBeGreaterThan(0);
    expect(Date.parse(requested.from.predictedFinish!)).toBeGreaterThan(
      Date.parse(requested.finishBy!),
    );
    const rescaled = history.find((e) => e.type === 'job.rescaled')
      ?.data as EventData<'job.rescaled'>;
    expect(rescaled).toMatchObject({ attempt: 1, to: { vCpu: 2 } });
    expect(rescaled.checkpoint).not.toBeNull();
    // Placed again on the configuration it was moved to, and run there as attempt 2.
    const placements = history
      .filter((e) => e.type === 'job.provisioned')
      .map((e) => (e.data as EventData<'job.provisioned'>).resources.cpu);
    expect(placements).toEqual([1, 2]);
    expect(types.indexOf('job.rescaled')).toBeLessThan(types.lastIndexOf('job.started'));
    expect(types.at(-1)).toBe('job.succeeded');
    // On a new attempt (2, or more if its work was redelivered under load).
    expect((history.at(-1)!.data as { attempt: number }).attempt).toBeGreaterThan(rescaled.attempt);

    const logs = (await system.api('GET', `/api/v1/jobs/${train.id}/logs`)).text;
    expect(logs).toContain('acai: stopped to move to another configuration; it resumes there');
    expect(logs).toMatch(/resuming from checkpoint of epoch \d+/);
    expect(logs).toMatch(/16 epochs, batch 64, .*, 2 thread\(s\)/);

    const report = (
      await system.api('GET', '/api/v1/filesets/mnist-report/versions/latest/files/report.json')
    ).body as { accuracy: number };
    expect(report.accuracy).toBeGreaterThan(0.96);
  }, 360_000);
});
