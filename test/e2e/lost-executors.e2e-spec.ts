import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { access, chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  subjects,
  type HistoryEntry,
  type JobView,
  type NodeView,
  type RunSpec,
} from '@acai/contracts';
import { eventually } from '@acai/testkit';
import { startExecutorProcess, startSystem, type TestSystem } from '../support/system.js';

/** The scheduler gives up an attempt its executor has not listed for this long. */
const LOST_AFTER_MS = 8_000;
/** The safety net of each wait: not a performance assertion. */
const WAIT_MS = 90_000;

/**
 * A job that writes which attempt it is into its output, says it started (a file), and waits for
 * its go file before exiting 0; from the third attempt on it exits at once.
 */
const WRITER = `
const fs = require('node:fs');
const path = require('node:path');
const attempt = Number(process.env.ACAI_ATTEMPT);
fs.writeFileSync(path.join(process.env.ACAI_OUTPUT_RESULT, 'result.txt'), 'attempt ' + attempt);
fs.writeFileSync(path.join(process.env.SHARED, 'started-' + attempt), String(process.pid));
const go = path.join(process.env.SHARED, 'go-' + attempt);
const wait = () => (attempt >= 3 || fs.existsSync(go) ? process.exit(0) : setTimeout(wait, 50));
wait();
`;

/**
 * The reliability issue's "every run ends" and "attempts are fenced", with executors as processes
 * of their own that the test kills (SIGKILL: a lost machine) or freezes (SIGSTOP: a stalled one).
 * Executors hand work over after 2 s without a lease heartbeat and may have it 5 times (JetStream's
 * max deliver); the scheduler's watchdog gives up an attempt after LOST_AFTER_MS.
 */
describe('jobs whose executors are lost', () => {
  let system: TestSystem;
  const executors = new Map<string, ChildProcess>();

  beforeAll(async () => {
    system = await startSystem({
      without: ['executor'],
      env: { ACAI_JOB_LOST_AFTER_MS: String(LOST_AFTER_MS) },
    });
  });

  afterAll(async () => {
    for (const executor of executors.values()) executor.kill('SIGKILL');
    await system.close();
  });

  async function nodes(): Promise<NodeView[]> {
    return ((await system.api('GET', '/api/v1/nodes')).body as { items: NodeView[] }).items;
  }

  /** Starts an executor (heartbeats every 250 ms) and waits until it has said it is there. */
  async function startExecutor(id: string, env: NodeJS.ProcessEnv = {}): Promise<void> {
    executors.set(id, startExecutorProcess(system, id, { ACAI_NODE_HEARTBEAT_MS: '250', ...env }));
    await eventually(
      `executor ${id} to report`,
      async () => (await nodes()).find((n) => n.id === id),
      WAIT_MS,
    );
  }

  /** SIGKILLs an executor, as a lost machine (its job dies with it), and waits for it to be gone. */
  async function kill(id: string): Promise<void> {
    const child = executors.get(id)!;
    executors.delete(id);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async function killAll(): Promise<void> {
    for (const id of [...executors.keys()]) await kill(id);
  }

  async function submit(steps: RunSpec['steps']): Promise<{ runId: string; jobId: string }> {
    const submitted = await system.api('POST', '/api/v1/runs', { name: 'lost', steps });
    expect(submitted.status).toBe(202);
    const body = submitted.body as { id: string; jobs: { id: string }[] };
    return { runId: body.id, jobId: body.jobs[0]!.id };
  }

  async function history(jobId: string): Promise<HistoryEntry[]> {
    return (await system.api('GET', `/api/v1/jobs/${jobId}/history`)).body as HistoryEntry[];
  }

  async function starts(jobId: string): Promise<{ executor: string; attempt: number }[]> {
    return (await history(jobId))
      .filter((e) => e.type === 'job.started')
      .map((e) => e.data as { executor: string; attempt: number });
  }

  function startOf(jobId: string, attempt: number): Promise<{ executor: string; attempt: number }> {
    return eventually(
      `attempt ${attempt} to start`,
      async () => (await starts(jobId)).find((s) => s.attempt === attempt),
      WAIT_MS,
    );
  }

  async function job(jobId: string): Promise<JobView> {
    return (await system.api('GET', `/api/v1/jobs/${jobId}`)).body as JobView;
  }

  it('fails a job whose executor died five times as executor_lost, and its run ends', async () => {
    await startExecutor('five-1');
    await startExecutor('five-2');
    const { runId, jobId } = await submit([{ name: 'sleep', command: ['sleep', '600'] }]);

    let next = 3;
    for (let attempt = 1; attempt <= 5; attempt++) {
      const start = await startOf(jobId, attempt);
      // Another executor waits, so the work is taken over as soon as JetStream hands it out again.
      if (executors.size < 2) await startExecutor(`five-${next++}`);
      await kill(start.executor);
    }
    // The fifth delivery was the last: the executor left waiting never gets the work.
    const run = await system.waitForRun(runId, system.key, WAIT_MS);

    expect(run.status).toBe('failed');
    expect(run.jobs).toEqual([expect.objectContaining({ id: jobId, status: 'failed' })]);
    expect((await starts(jobId)).map((s) => s.attempt)).toEqual([1, 2, 3, 4, 5]);
    const lastExecutor = (await starts(jobId))[4]!.executor;
    const failure = (await history(jobId)).find((e) => e.type === 'job.failed');
    expect(failure?.data).toMatchObject({ reason: 'executor_lost', attempt: 5, exitCode: null });
    expect((failure?.data as { message: string }).message).toContain(
      `executor ${lastExecutor} stopped reporting the job`,
    );
    expect(await job(jobId)).toMatchObject({
      status: 'failed',
      attempt: 5,
      reason: 'executor_lost',
    });
  });

  it('fails a job nobody took over after its only executor died, and does not run it when an executor comes back', async () => {
    await killAll();
    await startExecutor('alone-1');
    const { runId, jobId } = await submit([{ name: 'sleep', command: ['sleep', '600'] }]);
    await startOf(jobId, 1);
    await kill('alone-1');

    const run = await system.waitForRun(runId, system.key, WAIT_MS);
    expect(run.status).toBe('failed');
    expect(await job(jobId)).toMatchObject({
      status: 'failed',
      attempt: 1,
      reason: 'executor_lost',
    });

    // The work had deliveries left: an executor that comes back takes it, finds the job ended,
    // and drops it (off the queue) without starting it.
    const bus = system.services['scheduler']!.ctx.bus;
    const queued = async () =>
      (await bus.jsm.streams.info(bus.topology.streams.work)).state.messages;
    const before = await queued();
    await startExecutor('alone-2');
    await eventually(
      'the work to be taken and dropped',
      async () => ((await queued()) === before - 1 ? true : undefined),
      WAIT_MS,
    );
    expect((await starts(jobId)).map((s) => s.attempt)).toEqual([1]);
    expect((await job(jobId)).status).toBe('failed');
  });

  it('commits no output of a superseded attempt, which leaves the work to the attempt that owns it', async () => {
    await killAll();
    const script = path.join(system.shared, 'writer.cjs');
    await writeFile(script, WRITER);
    const exists = (file: string) =>
      access(path.join(system.shared, file)).then(
        () => true,
        () => undefined,
      );
    await startExecutor('fence-1');
    await startExecutor('fence-2');
    const { runId, jobId } = await submit([
      {
        name: 'write',
        command: ['node', script],
        env: { SHARED: system.shared },
        outputs: [{ fileset: 'result' }],
      },
    ]);

    // Attempt 1's executor stalls (its job goes on): after 2 s its work goes to the other one.
    const first = await startOf(jobId, 1);
    await eventually('attempt 1 to run', () => exists('started-1'), WAIT_MS);
    const stalled = executors.get(first.executor)!;
    stalled.kill('SIGSTOP');
    const second = await startOf(jobId, 2);
    await eventually('attempt 2 to run', () => exists('started-2'), WAIT_MS);
    expect(second.executor).not.toBe(first.executor);

    // Attempt 1's job succeeds, then its executor wakes up: its outputs must not become a version,
    // and it must leave the work to attempt 2.
    await writeFile(path.join(system.shared, 'go-1'), '');
    await startExecutor('fence-3');
    const resumedAt = new Date().toISOString();
    stalled.kill('SIGCONT');
    await eventually(
      'the woken executor to be done with attempt 1',
      async () =>
        (await nodes()).find(
          (n) => n.id === first.executor && n.jobs.length === 0 && (n.lastSeenAt ?? '') > resumedAt,
        ),
      WAIT_MS,
    );

    // Attempt 2's executor dies: its work is handed out again (had attempt 1 acknowledged it, it
    // would be gone), and attempt 3 succeeds.
    await kill(second.executor);
    const run = await system.waitForRun(runId, system.key, WAIT_MS);

    expect(run.status).toBe('succeeded');
    expect((await starts(jobId)).map((s) => s.attempt)).toEqual([1, 2, 3]);
    const succeeded = (await history(jobId)).find((e) => e.type === 'job.succeeded');
    expect(succeeded?.data).toMatchObject({
      attempt: 3,
      outputs: [{ fileset: 'result', version: 1 }],
    });
    const fileset = (await system.api('GET', '/api/v1/filesets/result')).body as {
      latestVersion: number;
    };
    expect(fileset.latestVersion).toBe(1);
    const file = await system.api('GET', '/api/v1/filesets/result/versions/1/files/result.txt');
    expect(file.text).toBe('attempt 3');
  });

  it('stops the older attempt when a stalled executor is handed its own job again, and goes on reporting the newer one', async () => {
    await killAll();
    const script = path.join(system.shared, 'writer-again.cjs');
    await writeFile(script, WRITER);
    const shared = path.join(system.shared, 'again');
    await mkdir(shared, { recursive: true });
    await chmod(shared, 0o777);
    const exists = (file: string) =>
      access(path.join(shared, file)).then(
        () => true,
        () => undefined,
      );
    // The only executor, with a slot free for the job's work when it comes back.
    await startExecutor('again-1', { ACAI_EXECUTOR_SLOTS: '2' });
    const { runId, jobId } = await submit([
      {
        name: 'write',
        command: ['node', script],
        env: { SHARED: shared },
        outputs: [{ fileset: 'result' }],
      },
    ]);
    await startOf(jobId, 1);
    await eventually('attempt 1 to run', () => exists('started-1'), WAIT_MS);
    const firstPid = Number(await readFile(path.join(shared, 'started-1'), 'utf8'));

    // Stalled past its lease (2 s), it is handed the same work again when it wakes up.
    const executor = executors.get('again-1')!;
    executor.kill('SIGSTOP');
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    executor.kill('SIGCONT');
    expect((await startOf(jobId, 2)).executor).toBe('again-1');
    await eventually('attempt 2 to run', () => exists('started-2'), WAIT_MS);

    // Attempt 1 is superseded: its process is stopped, not left to run beside attempt 2.
    await eventually(
      'the superseded attempt’s process to be stopped',
      async () => (alive(firstPid) ? undefined : true),
      WAIT_MS,
    );
    // The executor goes on listing the job (attempt 2's) after attempt 1 is gone, so the
    // watchdog never takes it for lost.
    const since = new Date().toISOString();
    await eventually(
      'a heartbeat after attempt 1 ended',
      async () => (await nodes()).find((n) => n.id === 'again-1' && (n.lastSeenAt ?? '') > since),
      WAIT_MS,
    );
    const node = (await nodes()).find((n) => n.id === 'again-1')!;
    expect(node.jobs).toContain(jobId);

    await writeFile(path.join(shared, 'go-2'), '');
    const run = await system.waitForRun(runId, system.key, WAIT_MS);
    expect(run.status).toBe('succeeded');
    expect((await starts(jobId)).map((s) => s.attempt)).toEqual([1, 2]);
    const succeeded = (await history(jobId)).find((e) => e.type === 'job.succeeded');
    const { outputs } = succeeded?.data as { attempt: number; outputs: { version: number }[] };
    expect(succeeded?.data).toMatchObject({ attempt: 2 });
    const file = await system.api(
      'GET',
      `/api/v1/filesets/result/versions/${outputs[0]!.version}/files/result.txt`,
    );
    expect(file.text).toBe('attempt 2');
  });

  it('starts a new attempt from work that comes back as a first delivery after its executor died (a NATS server that lost its consumer state)', async () => {
    await killAll();
    const script = path.join(system.shared, 'writer-back.cjs');
    await writeFile(script, WRITER);
    const shared = path.join(system.shared, 'back');
    await mkdir(shared, { recursive: true });
    await chmod(shared, 0o777);
    await writeFile(path.join(shared, 'go-2'), '');
    await startExecutor('back-1');
    const { runId, jobId } = await submit([
      {
        name: 'write',
        command: ['node', script],
        env: { SHARED: shared },
        // WRITER writes its attempt into this folder (a scratch output: versions are not the point).
        outputs: [{ fileset: 'result', save: false }],
      },
    ]);
    await startOf(jobId, 1);
    await eventually(
      'attempt 1 to run',
      () =>
        access(path.join(shared, 'started-1')).then(
          () => true,
          () => undefined,
        ),
      WAIT_MS,
    );

    // The server forgets how often it delivered the work (as a SIGKILLed nats-server that had
    // not written its consumer's state does): the message leaves the queue and comes back as new,
    // its first delivery, while the executor that ran it is gone.
    const bus = system.services['gateway']!.ctx.bus;
    const stream = bus.topology.streams.work;
    const work = await bus.jsm.streams.getMessage(stream, {
      last_by_subj: subjects.work(bus.topology, 'local'),
    });
    expect(work).not.toBeNull();
    expect(JSON.parse(new TextDecoder().decode(work!.data))).toMatchObject({ jobId });
    await bus.jsm.streams.deleteMessage(stream, work!.seq);
    await kill('back-1');
    await startExecutor('back-2');
    await bus.js.publish(work!.subject, work!.data, { msgID: `${jobId}-1-again` });

    const run = await system.waitForRun(runId, system.key, WAIT_MS);
    expect(run.status).toBe('succeeded');
    expect(await starts(jobId)).toEqual([
      expect.objectContaining({ executor: 'back-1', attempt: 1 }),
      expect.objectContaining({ executor: 'back-2', attempt: 2 }),
    ]);
  });
});

/** Whether a process runs (a zombie, exited but not reaped, counts as stopped). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
