import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { eventually, sharedWithJobs } from '@acai/testkit';
import { startSystem, type RunBody, type TestSystem } from '../support/system.js';

describe('a run through every service', () => {
  let system: TestSystem;

  beforeAll(async () => {
    system = await startSystem();
  });

  afterAll(async () => {
    await system?.close();
  });

  it('runs two steps in needs order, with logs and history', async () => {
    const submitted = await system.api('POST', '/api/v1/runs', {
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
    expect(submitted.status).toBe(202);
    const { id, jobs } = submitted.body as { id: string; jobs: { id: string; name: string }[] };
    expect(jobs.map((j) => j.name)).toEqual(['first', 'second']);

    // Read your writes: the run is there at once, not 404 until provenance catches up.
    const right = await system.api('GET', `/api/v1/runs/${id}`);
    expect(right.status).toBe(200);

    const run = await system.waitForRun(id);
    expect(run.status).toBe('succeeded');
    expect(run.jobs.map((j) => [j.name, j.status])).toEqual([
      ['first', 'succeeded'],
      ['second', 'succeeded'],
    ]);

    const second = jobs.find((j) => j.name === 'second')!;
    const logs = await system.api('GET', `/api/v1/jobs/${second.id}/logs`);
    expect(logs.status).toBe(200);
    expect(logs.text).toBe('second says hi\n');

    const history = await system.api('GET', `/api/v1/jobs/${second.id}/history`);
    const types = (history.body as { type: string }[]).map((e) => e.type);
    expect(types).toEqual([
      'job.queued',
      'job.provisioned',
      'job.dispatched',
      'job.started',
      'job.succeeded',
    ]);

    // The second job was queued only after the first succeeded.
    const firstHistory = await system.api('GET', `/api/v1/jobs/${jobs[0]!.id}/history`);
    const firstDone = (firstHistory.body as { type: string; seq: number }[]).find(
      (e) => e.type === 'job.succeeded',
    )!;
    const secondQueued = (history.body as { type: string; seq: number }[]).find(
      (e) => e.type === 'job.queued',
    )!;
    expect(secondQueued.seq).toBeGreaterThan(firstDone.seq);
  });

  it('fails a step whose command does not exist, with the reason in its history, and skips what needs it', async () => {
    const submitted = await system.api('POST', '/api/v1/runs', {
      name: 'broken',
      steps: [
        { name: 'missing', command: ['definitely-not-a-command-acai'] },
        { name: 'after', command: ['true'], needs: ['missing'] },
      ],
    });
    expect(submitted.status).toBe(202);
    const { id, jobs } = submitted.body as { id: string; jobs: { id: string; name: string }[] };
    const run: RunBody = await system.waitForRun(id);
    expect(run.status).toBe('failed');
    expect(run.jobs.map((j) => j.status)).toEqual(['failed', 'skipped']);

    const history = await system.api('GET', `/api/v1/jobs/${jobs[0]!.id}/history`);
    const failed = (
      history.body as { type: string; data: { reason: string; message: string } }[]
    ).at(-1)!;
    expect(failed.type).toBe('job.failed');
    expect(failed.data.reason).toBe('command_not_found');
    expect(failed.data.message).toContain('definitely-not-a-command-acai');
  });

  it('streams each line to a follower while the job runs, not when it ends', async () => {
    // The job prints a line, then waits for a file that the test creates only once it has read
    // that line through the gateway: if lines were held back until the job ended, it never would.
    const dir = await sharedWithJobs('acai-live-');
    const go = path.join(dir, 'go');
    const submitted = await system.api('POST', '/api/v1/runs', {
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
    const { jobs } = submitted.body as { jobs: { id: string }[] };
    const response = await fetch(
      `${system.gatewayUrl}/api/v1/jobs/${jobs[0]!.id}/logs?follow=true`,
      { headers: { authorization: `Bearer ${system.key}` } },
    );
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!text.includes('first line\n')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    expect(text).toBe('first line\n');
    const job = await system.api('GET', `/api/v1/jobs/${jobs[0]!.id}`);
    expect((job.body as { status: string }).status).toBe('running');
    await writeFile(go, '');
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    expect(text).toBe('first line\nafter go\n');
    await rm(dir, { recursive: true, force: true });
  });

  it('streams logs with follow=true until the job ends', async () => {
    const submitted = await system.api('POST', '/api/v1/runs', {
      name: 'slow',
      steps: [
        {
          name: 'ticker',
          command: ['sh', '-c', 'for i in 1 2 3; do echo tick $i; sleep 0.3; done; echo done >&2'],
        },
      ],
    });
    const { jobs } = submitted.body as { jobs: { id: string }[] };
    const started = Date.now();
    const followed = await system.api('GET', `/api/v1/jobs/${jobs[0]!.id}/logs?follow=true`);
    expect(followed.status).toBe(200);
    expect(followed.text).toBe('tick 1\ntick 2\ntick 3\ndone\n');
    // It waited for the job rather than returning what was there when it was asked.
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);

    const json = await system.api('GET', `/api/v1/jobs/${jobs[0]!.id}/logs?format=json`);
    const lines = json.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { s: string; l: string });
    expect(lines.at(-1)).toEqual(expect.objectContaining({ s: 'err', l: 'done' }));
  });

  it('cancels a run: the running process is killed and queued steps never run', async () => {
    const submitted = await system.api('POST', '/api/v1/runs', {
      name: 'long',
      steps: [
        { name: 'sleeper', command: ['sleep', '30'] },
        { name: 'after', command: ['true'], needs: ['sleeper'] },
      ],
    });
    const { id, jobs } = submitted.body as { id: string; jobs: { id: string }[] };
    await eventually('the sleeper to run', async () => {
      const job = await system.api('GET', `/api/v1/jobs/${jobs[0]!.id}`);
      return (job.body as { status: string }).status === 'running' ? true : undefined;
    });
    const cancel = await system.api('POST', `/api/v1/runs/${id}/cancel`);
    expect(cancel.status).toBe(202);
    const run = await system.waitForRun(id);
    expect(run.status).toBe('cancelled');
    expect(run.jobs.map((j) => j.status)).toEqual(['cancelled', 'cancelled']);

    const again = await system.api('POST', `/api/v1/runs/${id}/cancel`);
    expect(again.status).toBe(409);
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
