import type { ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { HistoryEntry, JobView } from '@acai/contracts';
import { eventually } from '@acai/testkit';
import { startExecutorProcess, startSystem, type TestSystem } from '../support/system.js';

/**
 * A job that counts to STEPS, one step every 300 ms, keeping its count in $ACAI_CHECKPOINT_DIR and
 * checkpointing after each step. A resumed attempt starts after the step it finds there. Its output
 * says which steps each attempt ran.
 */
const COUNTER = `
const fs = require('node:fs');
const path = require('node:path');
const dir = process.env.ACAI_CHECKPOINT_DIR;
const out = process.env.ACAI_OUTPUT_COUNTED;
fs.writeFileSync(process.env.PID_FILE, String(process.pid));
const file = path.join(dir, 'state.json');
let state = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : { step: 0, ran: [] };
console.log('attempt ' + process.env.ACAI_ATTEMPT + ' starts after step ' + state.step +
  ' (ACAI_CHECKPOINT_STEP=' + (process.env.ACAI_CHECKPOINT_STEP ?? 'unset') + ')');
const steps = Number(process.env.STEPS);
const tick = () => {
  if (state.step === steps) {
    fs.writeFileSync(path.join(out, 'result.json'), JSON.stringify(state));
    return;
  }
  state = { step: state.step + 1, ran: [...state.ran, [Number(process.env.ACAI_ATTEMPT), state.step + 1]] };
  fs.writeFileSync(file + '.tmp', JSON.stringify(state));
  fs.renameSync(file + '.tmp', file);
  console.log('##acai checkpoint step=' + state.step);
  setTimeout(tick, 300);
};
setTimeout(tick, 300);
`;

describe('checkpoints', () => {
  let system: TestSystem;
  const executors: ChildProcess[] = [];

  beforeAll(async () => {
    system = await startSystem({ without: ['executor'] });
  });

  afterAll(async () => {
    for (const executor of executors) executor.kill('SIGKILL');
    await system.close();
  });

  it('are saved as versions, and a job whose executor is SIGKILLed resumes from its last one on another executor', async () => {
    const script = path.join(system.shared, 'counter.cjs');
    const pidFile = path.join(system.shared, 'job.pid');
    await writeFile(script, COUNTER);
    executors.push(startExecutorProcess(system, 'node-a'));

    const submitted = await system.api('POST', '/api/v1/runs', {
      name: 'count',
      steps: [
        {
          name: 'count',
          command: ['node', script],
          env: { STEPS: '8', PID_FILE: pidFile },
          outputs: [{ fileset: 'counted' }],
        },
      ],
    });
    expect(submitted.status).toBe(202);
    const { id: runId, jobs } = submitted.body as { id: string; jobs: { id: string }[] };
    const jobId = jobs[0]!.id;

    // Let it get a few steps in, with their checkpoints saved.
    const before = await eventually('a checkpoint of step 3 or later', async () => {
      const job = (await system.api('GET', `/api/v1/jobs/${jobId}`)).body as JobView;
      return job.checkpoint !== null && (job.checkpoint.step ?? 0) >= 3 ? job : undefined;
    });
    // The node is lost: its executor dies with no chance to say so, and the job dies with it
    // (its parent-death signal): no orphan goes on writing.
    const jobPid = Number(await readFile(pidFile, 'utf8'));
    executors[0]!.kill('SIGKILL');
    await eventually('the job to die with its executor', async () => {
      const status = await readFile(`/proc/${jobPid}/status`, 'utf8').catch(() => '');
      return status === '' || /State:\s+Z/.test(status) ? true : undefined;
    });
    executors.push(startExecutorProcess(system, 'node-b'));

    const run = await system.waitForRun(runId);
    expect(run.status).toBe('succeeded');

    const history = (await system.api('GET', `/api/v1/jobs/${jobId}/history`))
      .body as HistoryEntry[];
    const starts = history
      .filter((e) => e.type === 'job.started')
      .map((e) => e.data as { executor: string; attempt: number });
    expect(starts).toEqual([
      expect.objectContaining({ executor: 'node-a', attempt: 1 }),
      expect.objectContaining({ executor: 'node-b', attempt: 2 }),
    ]);
    const checkpoints = history
      .filter((e) => e.type === 'job.checkpointed')
      .map((e) => e.data as { attempt: number; step: number; version: number; fileset: string });
    expect(checkpoints.every((c) => c.fileset === `checkpoints-${jobId}`)).toBe(true);
    expect(checkpoints.at(-1)).toMatchObject({ attempt: 2, step: 8 });

    // Attempt 2 did not redo what attempt 1 had checkpointed: it started after that step.
    const resumedAfter = before.checkpoint!.step!;
    const lastOfFirst = Math.max(...checkpoints.filter((c) => c.attempt === 1).map((c) => c.step));
    expect(lastOfFirst).toBeGreaterThanOrEqual(resumedAfter);
    const result = await eventually('the output version', async () => {
      const file = await system.api(
        'GET',
        '/api/v1/filesets/counted/versions/latest/files/result.json',
      );
      return file.status === 200
        ? (file.body as { step: number; ran: [number, number][] })
        : undefined;
    });
    expect(result.step).toBe(8);
    const secondAttemptSteps = result.ran.filter(([attempt]) => attempt === 2).map(([, s]) => s);
    expect(secondAttemptSteps[0]).toBe(lastOfFirst + 1);
    expect(result.ran.map(([, s]) => s)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);

    const logs = (await system.api('GET', `/api/v1/jobs/${jobId}/logs`)).text;
    expect(logs).toContain(`acai: resuming from checkpoint checkpoints-${jobId}@`);
    expect(logs).toContain(
      `starts after step ${lastOfFirst} (ACAI_CHECKPOINT_STEP=${lastOfFirst})`,
    );

    // Each checkpoint is a version of the job's checkpoint file set, made by the job.
    const versions = await eventually('the search tables to hold every checkpoint', async () => {
      const page = (
        await system.api('GET', `/api/v1/versions?fileset=checkpoints-${jobId}&limit=100`)
      ).body as { items: { fileset: string; version: number }[] };
      return page.items.length === checkpoints.length ? page.items : undefined;
    });
    expect(new Set(versions.map((v) => v.version))).toEqual(
      new Set(checkpoints.map((c) => c.version)),
    );
    const byJob = (await system.api('GET', `/api/v1/versions?creatorJob=${jobId}&limit=100`))
      .body as { items: { fileset: string }[] };
    expect(byJob.items.filter((v) => v.fileset === `checkpoints-${jobId}`)).toHaveLength(
      checkpoints.length,
    );
  });
});
