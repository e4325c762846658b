import { readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startSystem, type TestSystem } from '../support/system.js';

interface HistoryEntry {
  type: string;
  data: Record<string, unknown>;
}

/**
 * Limits are enforced, not just recorded. These machines let the executor create cgroups (it runs
 * as root), so enforcement is expected here: a run without it fails the first test, loudly.
 */
describe('job limits', () => {
  let system: TestSystem;

  beforeAll(async () => {
    system = await startSystem();
  });

  afterAll(async () => {
    await system?.close();
  });

  const runOne = async (step: Record<string, unknown>) => {
    const submitted = await system.api('POST', '/api/v1/runs', {
      name: 'limits',
      steps: [{ name: 'job', ...step }],
    });
    const { id, jobs } = submitted.body as { id: string; jobs: { id: string }[] };
    const run = await system.waitForRun(id);
    const jobId = jobs[0]!.id;
    const history = (await system.api('GET', `/api/v1/jobs/${jobId}/history`))
      .body as HistoryEntry[];
    const logs = (await system.api('GET', `/api/v1/jobs/${jobId}/logs`)).text;
    return { run, last: history.at(-1)!, logs, jobId };
  };

  it('gives a job its CPU quota and tells it how many threads to use', async () => {
    const script = [
      "const fs = require('fs');",
      'const mode = process.env.ACAI_LIMITS;',
      "const lines = fs.readFileSync('/proc/self/cgroup', 'utf8').split('\\n');",
      "let quota = 'none';",
      "if (mode === 'cgroup-v1') { const d = lines.find((l) => l.split(':')[1] === 'cpu').split(':')[2]; quota = fs.readFileSync('/sys/fs/cgroup/cpu' + d + '/cpu.cfs_quota_us', 'utf8').trim(); }",
      "if (mode === 'cgroup-v2') { const d = lines.find((l) => l.startsWith('0::')).slice(3); quota = fs.readFileSync('/sys/fs/cgroup' + d + '/cpu.max', 'utf8').trim().split(' ')[0]; }",
      'console.log(mode, quota, process.env.OMP_NUM_THREADS);',
    ].join(' ');
    const { run, logs } = await runOne({
      command: ['node', '-e', script],
      resources: { cpu: 0.5, memoryMb: 256 },
    });
    expect(run.status).toBe('succeeded');
    expect(logs).toMatch(/^cgroup-v[12] 50000 1\n$/);
  });

  it('stops a job that uses more memory than it asked for, with reason out_of_memory', async () => {
    const { run, last, jobId } = await runOne({
      command: ['node', '-e', 'const keep = []; for (;;) keep.push(Buffer.alloc(8e6, 1));'],
      resources: { cpu: 1, memoryMb: 96 },
    });
    expect(run.status).toBe('failed');
    // Its cgroups are removed once it is gone.
    const left = (await readdir('/sys/fs/cgroup/memory/acai').catch(() => [] as string[])).filter(
      (d) => d.startsWith(jobId),
    );
    expect(left).toEqual([]);
    expect(last.type).toBe('job.failed');
    expect(last.data['reason']).toBe('out_of_memory');
    expect(last.data['message']).toContain('96 MiB');
  });

  it('stops a job that runs past its time limit, with reason timed_out', async () => {
    const { run, last } = await runOne({ command: ['sleep', '30'], timeoutSeconds: 1 });
    expect(run.status).toBe('failed');
    expect(last.data['reason']).toBe('timed_out');
    // Stopped by a signal, not left to finish its 30 seconds.
    expect(last.data['signal']).toBe('SIGTERM');
  });
});
