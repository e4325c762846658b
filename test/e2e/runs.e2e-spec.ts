import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AcaiClient } from '@acai/sdk';
import { eventually, sharedWithJobs } from '@acai/testkit';
import { startSystem, type TestSystem } from '../support/system.js';

describe('a run through every service', () => {
  let system: TestSystem;
  let acai: AcaiClient;

  beforeAll(async () => {
    system = await startSystem();
    acai = system.client();
  });

  afterAll(async () => {
    await system?.close();
  });

  it('runs two steps in needs order, with logs and history', async () => {
    const { id, jobs } = await acai.submitRun({
      name: 'hello',
      steps: [
        {
          name: 'second',
          command: ['sh', '-c', 'echo second says $GREETING'],
          needs: ['first'],
          env: { GREETING: 'hi' },
        },
        { name: 'first', command: ['echo', 'first'] },
      ],
    });
    expect(jobs.map((j) => j.name)).toEqual(['first', 'second']);

    // Read your writes: the run is there at once, not 404 until provenance catches up.
    expect(await acai.getRun(id)).toMatchObject({ id });

    const run = await system.waitForRun(id);
    expect(run.status).toBe('succeeded');
    expect(run.jobs.map((j) => [j.name, j.status])).toEqual([
      ['first', 'succeeded'],
      ['second', 'succeeded'],
    ]);

    const second = jobs.find((j) => j.name === 'second')!;
    expect(await acai.getJobLogs(second.id)).toBe('second says hi\n');

    const history = await acai.getJobHistory(second.id);
    const types = history.map((e) => e.type);
    expect(types).toEqual([
      'job.queued',
      'job.provisioned',
      'job.dispatched',
      'job.started',
      'job.succeeded',
    ]);

    // The second job was queued only after the first succeeded.
    const firstHistory = await acai.getJobHistory(jobs[0]!.id);
    const firstDone = firstHistory.find((e) => e.type === 'job.succeeded')!;
    const secondQueued = history.find((e) => e.type === 'job.queued')!;
    expect(secondQueued.seq).toBeGreaterThan(firstDone.seq);
  });

  it('fails a step whose command does not exist, with the reason in its history, and skips what needs it', async () => {
    const { id, jobs } = await acai.submitRun({
      name: 'broken',
      steps: [
        { name: 'missing', command: ['definitely-not-a-command-acai'] },
        { name: 'after', command: ['true'], needs: ['missing'] },
      ],
    });
    const run = await system.waitForRun(id);
    expect(run.status).toBe('failed');
    expect(run.jobs.map((j) => j.status)).toEqual(['failed', 'skipped']);

    const failed = (await acai.getJobHistory(jobs[0]!.id)).at(-1)!;
    expect(failed.type).toBe('job.failed');
    const data = failed.data as { reason: string; message: string };
    expect(data.reason).toBe('command_not_found');
    expect(data.message).toContain('definitely-not-a-command-acai');
  });

  it('streams each line to a follower while the job runs, not when it ends', async () => {
    // The job prints a line, then waits for a file that the test creates only once it has read
    // that line through the gateway: if lines were held back until the job ended, it never would.
    const dir = await sharedWithJobs('acai-live-');
    const go = path.join(dir, 'go');
    const { jobs } = await acai.submitRun({
      name: 'live',
      steps: [
        {
          name: 'waits',
          command: [
            'sh',
            '-c',
            'echo first line; while [ ! -e "$GO" ]; do sleep 0.05; done; echo after go',
          ],
          env: { GO: go },
          timeoutSeconds: 60,
        },
      ],
    });
    const lines = acai.followJobLogs(jobs[0]!.id);
    expect(await lines.next()).toEqual({ done: false, value: 'first line' });
    expect((await acai.getJob(jobs[0]!.id)).status).toBe('running');
    await writeFile(go, '');
    const rest: string[] = [];
    for await (const line of lines) rest.push(line);
    expect(rest).toEqual(['after go']);
    // Every line whole, its newline included.
    expect(await acai.getJobLogs(jobs[0]!.id)).toBe('first line\nafter go\n');
    await rm(dir, { recursive: true, force: true });
  });

  it('streams logs with follow=true until the job ends', async () => {
    const { jobs } = await acai.submitRun({
      name: 'slow',
      steps: [
        {
          name: 'ticker',
          command: ['sh', '-c', 'for i in 1 2 3; do echo tick $i; sleep 0.3; done; echo done >&2'],
        },
      ],
    });
    const started = Date.now();
    const followed: string[] = [];
    for await (const line of acai.followJobLogs(jobs[0]!.id)) followed.push(line);
    expect(followed).toEqual(['tick 1', 'tick 2', 'tick 3', 'done']);
    expect(await acai.getJobLogs(jobs[0]!.id)).toBe('tick 1\ntick 2\ntick 3\ndone\n');
    // It waited for the job rather than returning what was there when it was asked.
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);

    const json = await acai.getJobLogs(jobs[0]!.id, { format: 'json' });
    const lines = json
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { s: string; l: string });
    expect(lines.at(-1)).toEqual(expect.objectContaining({ s: 'err', l: 'done' }));
  });

  it('cancels a run: the running process is killed and queued steps never run', async () => {
    const { id, jobs } = await acai.submitRun({
      name: 'long',
      steps: [
        { name: 'sleeper', command: ['sleep', '30'] },
        { name: 'after', command: ['true'], needs: ['sleeper'] },
      ],
    });
    await eventually('the sleeper to run', async () =>
      (await acai.getJob(jobs[0]!.id)).status === 'running' ? true : undefined,
    );
    await acai.cancelRun(id);
    const run = await system.waitForRun(id);
    expect(run.status).toBe('cancelled');
    expect(run.jobs.map((j) => j.status)).toEqual(['cancelled', 'cancelled']);

    await expect(acai.cancelRun(id)).rejects.toMatchObject({ status: 409 });
    // The process was stopped, not left running: the executor has no job in hand.
    const executor = system.services['executor']!;
    await eventually('the executor to be idle', async () => {
      const metrics = await fetch(`${executor.url}/readyz`);
      return metrics.status === 200 && (await activeJobs(system)) === 0 ? true : undefined;
    });
  });
});

async function activeJobs(system: TestSystem): Promise<number> {
  const { ExecutorNode } = await import('@acai/executor');
  return system.services['executor']!.app.get(ExecutorNode).activeJobs;
}
