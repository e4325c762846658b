import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import type {
  DeadLetterList,
  FilesetView,
  HistoryEntry,
  JobView,
  MetricSeries,
  ProjectionView,
  RunSpec,
} from '@acai/contracts';
import { startStack, type Stack } from '@acai/devstack';
import { eventually } from '@acai/testkit';
import {
  chaosSeed,
  describeSchedule,
  faultSchedule,
  type KillFault,
  type ServerName,
  type ServiceName,
} from '../support/chaos.js';
import { importMnist } from '../support/system.js';

const root = path.resolve(import.meta.dirname, '../..');

/** A fan-out: RUNS runs of STEPS independent short jobs each. */
const RUNS = 5;
const STEPS = 10;
const JOBS = RUNS * STEPS;
/** MNIST trains this many epochs, each checkpointed. */
const EPOCHS = 5;
/** The executors' work is handed out again after this long without a lease heartbeat. */
const ACK_WAIT_MS = 3_000;
/** The safety net of each wait: not a performance assertion. */
const WAIT_MS = 150_000;
const TERMINAL = ['succeeded', 'failed', 'cancelled', 'skipped'];
/** The file set every job of a fan-out "with data" reads. */
const INPUT = 'chaos-input';

const shape = { jobs: JOBS, epochs: EPOCHS, ackWaitMs: ACK_WAIT_MS };
const seed = chaosSeed(process.env);
const schedule = faultSchedule(seed, shape);

/** The first error lines of every service's log (at most 12, each cut at 500 characters). */
async function errorLines(logDir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(logDir).catch(() => [])).sort()) {
    const text = await readFile(path.join(logDir, name), 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      if (!line.includes('"level":"error"') && !line.includes('"level":"fatal"')) continue;
      out.push(`${name}: ${line.slice(0, 500)}`);
      if (out.length >= 12) return out;
    }
  }
  return out;
}

interface RunView {
  id: string;
  status: string;
  jobs: { id: string; name: string; status: string }[];
}

/** How the jobs of a fan-out work: a line of output, or data in and out (the catalog's work). */
interface FanOutOptions {
  /** Each job stages INPUT and commits one version of its run's output file set. */
  readonly data?: boolean;
  /** Seconds each job sleeps first, so that attempts are running when something stops. */
  readonly sleep?: number;
}

/**
 * The reliability issue's chaos tests: the real stack (each service its own supervised process,
 * the stack's own nats-server and embedded Postgres, supervised too) and a process killed (or
 * stopped) at a seeded point of a real run: a 50-job fan-out per fault, and MNIST training with
 * checkpoints. Whatever dies, every run ends as it would have without the fault (succeeded), each
 * job's history holds each event once, no job's outputs are committed twice, nothing is
 * dead-lettered, no epoch before the last checkpoint is trained twice, and the read models rebuilt
 * by a replay (itself interrupted) equal those before. The schedule is printed first and quoted in
 * every failure; `ACAI_CHAOS_SEED=<seed>` re-runs it.
 */
describe(`chaos (ACAI_CHAOS_SEED=${seed})`, () => {
  let home: string;
  let stack: Stack;
  let key: string;
  let failed = false;
  /** Every run of every scenario, for the replay at the end. */
  const everyRun: RunView[] = [];

  beforeAll(async () => {
    process.stdout.write(`${describeSchedule(schedule, shape)}\n`);
    home = await mkdtemp(path.join(os.tmpdir(), 'acai-chaos-'));
    stack = await startStack({
      root,
      home,
      gatewayPort: 0,
      env: {
        ACAI_LOG_LEVEL: 'info',
        // The work of a killed executor is handed out again after 3 s instead of 30.
        ACAI_WORK_ACK_WAIT_MS: String(ACK_WAIT_MS),
        ACAI_NODE_HEARTBEAT_MS: '1000',
        // Replays in small steps, so that one is surely being built when provenance is killed,
        // and taken over 5 s after it stopped saying so rather than 15.
        ACAI_REPLAY_BATCH_SIZE: '20',
        ACAI_REPLAY_STALE_SECONDS: '5',
      },
    });
    key = stack.key();
    // The input of the fan-outs with data, made while everything runs.
    expect((await api('POST', '/api/v1/filesets', { name: INPUT })).status).toBe(201);
    const content = `chaos seed ${seed}\n`;
    const sha256 = createHash('sha256').update(content).digest('hex');
    const uploaded = await fetch(`${stack.gatewayUrl}/api/v1/blobs/${sha256}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/octet-stream' },
      body: content,
    });
    expect(uploaded.status).toBe(201);
    const committed = await api('POST', `/api/v1/filesets/${INPUT}/versions`, {
      parent: 0,
      put: [{ path: 'seed.txt', sha256 }],
    });
    expect(committed.status).toBe(201);
  }, WAIT_MS);

  afterAll(async () => {
    await stack?.stop();
    // A failure's logs (every service's, nats-server's) are kept for whoever reads it.
    if (failed) process.stdout.write(`chaos seed ${seed} failed: logs kept under ${home}\n`);
    else if (home !== undefined) await rm(home, { recursive: true, force: true });
  });

  /** Runs a test body, naming the seed in whatever it throws. */
  const withSeed = (body: () => Promise<void>) => async () => {
    try {
      await body();
    } catch (error) {
      failed = true;
      if (error instanceof Error) {
        const said = error.message;
        // CI keeps only what the test prints: the services' errors go with the failure.
        const logged = await errorLines(stack.logDir);
        error.message =
          `[ACAI_CHAOS_SEED=${seed}] ${said}` +
          (logged.length > 0 ? `\n\nthe services logged these errors:\n${logged.join('\n')}` : '');
        // V8 may format the stack lazily, from the message already prefixed.
        if (error.stack?.includes(error.message) === false) {
          error.stack = error.stack.replace(said, error.message);
        }
      }
      throw error;
    }
  };

  async function api(method: string, pathname: string, body?: unknown) {
    const response = await fetch(`${stack.gatewayUrl}${pathname}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Logs are text.
    }
    return { status: response.status, body: parsed };
  }

  /** GET that must answer 200 (a gateway being restarted throws, for `eventually` to retry). */
  async function get<T>(pathname: string): Promise<T> {
    const { status, body } = await api('GET', pathname);
    if (status !== 200) throw new Error(`GET ${pathname}: ${status} ${JSON.stringify(body)}`);
    return body as T;
  }

  const outputOf = (label: string, r: number) => `chaos-${label}-${r}`;

  /** Submits a fan-out: RUNS runs of STEPS jobs that each echo their number (or write it out). */
  async function fanOut(label: string, options: FanOutOptions = {}): Promise<RunView[]> {
    const runs: RunView[] = [];
    for (let r = 0; r < RUNS; r++) {
      const output = outputOf(label, r);
      const steps: RunSpec['steps'] = Array.from({ length: STEPS }, (_, s) => {
        const n = r * STEPS + s;
        const sleep = options.sleep === undefined ? '' : `sleep ${options.sleep}; `;
        if (options.data !== true) {
          return { name: `s${s}`, command: ['sh', '-c', `${sleep}echo ${n}`] };
        }
        return {
          name: `s${s}`,
          command: [
            'sh',
            '-c',
            `${sleep}cat inputs/${INPUT}/seed.txt && echo ${n} > outputs/${output}/s${s}.txt`,
          ],
          inputs: [{ fileset: INPUT, version: 'latest' }],
          outputs: [{ fileset: output }],
        };
      });
      const submitted = await eventually(
        `run ${label}-${r} to be accepted`,
        async () => {
          const answer = await api('POST', '/api/v1/runs', { name: `${label}-${r}`, steps });
          // A gateway being restarted refuses the connection: `eventually` tries again.
          return answer.status === 202 ? (answer.body as RunView) : undefined;
        },
        WAIT_MS,
      );
      runs.push(submitted);
    }
    everyRun.push(...runs);
    return runs;
  }

  async function views(runs: readonly RunView[]): Promise<RunView[]> {
    return Promise.all(runs.map((run) => get<RunView>(`/api/v1/runs/${run.id}`)));
  }

  async function ended(runs: readonly RunView[]): Promise<number> {
    return (await views(runs))
      .flatMap((run) => run.jobs)
      .filter((job) => TERMINAL.includes(job.status)).length;
  }

  /** Waits until `count` of the fan-out's jobs have ended; says how many had. */
  function endedAtLeast(runs: readonly RunView[], count: number): Promise<number> {
    return eventually(
      `${count} of ${JOBS} jobs to end`,
      async () => {
        const n = await ended(runs);
        return n >= count ? n : undefined;
      },
      WAIT_MS,
    );
  }

  /** SIGKILLs a service and waits for the stack's supervisor to have a fresh one ready. */
  async function killService(name: ServiceName): Promise<void> {
    const before = stack.pid(name);
    if (before === undefined) throw new Error(`${name} is not running`);
    process.kill(before, 'SIGKILL');
    await eventually(
      `${name} to be restarted`,
      async () => {
        const service = stack.services().find((s) => s.name === name);
        if (service?.url === undefined || service.pid === before) return undefined;
        return (await fetch(`${service.url}/readyz`)).status === 200 ? true : undefined;
      },
      WAIT_MS,
    );
  }

  /** SIGKILLs a server the stack runs (nats-server, Postgres) and waits for it to be back. */
  async function killServer(name: ServerName): Promise<void> {
    const before = stack.pid(name);
    if (before === undefined) throw new Error(`${name} is not running`);
    process.kill(before, 'SIGKILL');
    await eventually(
      `${name} to be restarted by the stack`,
      async () => {
        const now = stack.pid(name);
        return now !== undefined && now !== before ? now : undefined;
      },
      WAIT_MS,
    );
  }

  /** Every run ended as without a fault: succeeded, with every job succeeded. */
  async function expectAllSucceeded(runs: readonly RunView[]): Promise<RunView[]> {
    const done = await eventually(
      'every run to end',
      async () => {
        const now = await views(runs);
        return now.every((run) => TERMINAL.includes(run.status)) ? now : undefined;
      },
      WAIT_MS,
    );
    // A job that did not succeed is named with its reason and message, so that a failure says why.
    const unsucceeded: string[] = [];
    for (const run of done) {
      for (const job of run.jobs.filter((j) => j.status !== 'succeeded')) {
        const view = await get<JobView>(`/api/v1/jobs/${job.id}`);
        unsucceeded.push(
          `${run.id} ${job.name} ${job.id} attempt ${view.attempt}: ${view.status} (${view.reason ?? '-'}: ${view.message ?? '-'})`,
        );
      }
    }
    expect(unsucceeded).toEqual([]);
    expect(done.map((run) => [run.id, run.status])).toEqual(
      runs.map((run) => [run.id, 'succeeded']),
    );
    return done;
  }

  /**
   * What is wrong with a succeeded job's history, if anything: an event twice (the same position
   * in the log), out of order, or a step of its life more than once. Only `job.started` may repeat
   * (a new attempt after a lost executor), each attempt once; the success is the last attempt's.
   */
  function historyProblems(jobId: string, history: readonly HistoryEntry[]): string[] {
    const problems: string[] = [];
    const seqs = history.map((e) => e.seq);
    if (new Set(seqs).size !== seqs.length)
      problems.push(`a stream position twice: ${seqs.join()}`);
    if (seqs.some((seq, i) => i > 0 && seq <= seqs[i - 1]!))
      problems.push(`out of order: ${seqs.join()}`);
    const count = (type: string) => history.filter((e) => e.type === type).length;
    for (const type of ['job.queued', 'job.dispatched', 'job.succeeded']) {
      if (count(type) !== 1) problems.push(`${count(type)} × ${type}`);
    }
    for (const type of ['job.provisioned', 'job.failed', 'job.cancelled']) {
      if (count(type) > (type === 'job.provisioned' ? 1 : 0)) {
        problems.push(`${count(type)} × ${type}`);
      }
    }
    const attempts = history
      .filter((e) => e.type === 'job.started')
      .map((e) => (e.data as { attempt: number }).attempt);
    if (attempts.length === 0 || new Set(attempts).size !== attempts.length) {
      problems.push(`attempts started: ${attempts.join()}`);
    }
    const succeeded = history.find((e) => e.type === 'job.succeeded');
    const by = (succeeded?.data as { attempt?: number } | undefined)?.attempt;
    if (by !== undefined && by !== Math.max(...attempts)) {
      problems.push(`succeeded by attempt ${by} of ${attempts.join()}`);
    }
    return problems.map((p) => `job ${jobId}: ${p} (${history.map((e) => e.type).join(', ')})`);
  }

  async function expectEachEventOnce(runs: readonly RunView[]): Promise<void> {
    const problems: string[] = [];
    for (const run of runs) {
      for (const job of run.jobs) {
        const history = await get<HistoryEntry[]>(`/api/v1/jobs/${job.id}/history`);
        problems.push(...historyProblems(job.id, history));
      }
    }
    expect(problems).toEqual([]);
  }

  /** Each job of a fan-out with data committed its output once: one version, the one it reports. */
  async function expectOutputsOnce(label: string, runs: readonly RunView[]): Promise<void> {
    const problems: string[] = [];
    for (const [r, run] of runs.entries()) {
      const fileset = await get<FilesetView>(`/api/v1/filesets/${outputOf(label, r)}`);
      for (const job of run.jobs) {
        const made = fileset.versions
          .filter((v) => v.createdBy.kind === 'job' && v.createdBy.jobId === job.id)
          .map((v) => v.version);
        const history = await get<HistoryEntry[]>(`/api/v1/jobs/${job.id}/history`);
        const succeeded = history.find((e) => e.type === 'job.succeeded')?.data as
          { outputs?: { fileset: string; version: number }[] } | undefined;
        const reported = (succeeded?.outputs ?? []).map((o) => o.version);
        if (made.length !== 1 || reported.join() !== made.join()) {
          problems.push(
            `job ${job.id}: versions ${made.join() || 'none'}, reported ${reported.join()}`,
          );
        }
      }
      expect(fileset.versions.length).toBe(STEPS);
    }
    expect(problems).toEqual([]);
  }

  /** No service dead-lettered anything (once every service answers). */
  async function expectNoDeadLetters(): Promise<void> {
    const letters = await eventually(
      'every service to list its dead letters',
      async () => {
        const list = await get<DeadLetterList>('/api/v1/admin/dead-letters');
        return list.unanswered.length === 0 ? list : undefined;
      },
      WAIT_MS,
    );
    expect(letters.items.map((l) => `${l.service} ${l.consumer} ${l.type}: ${l.reason}`)).toEqual(
      [],
    );
    expect(letters.total).toBe(0);
  }

  it.each(schedule.services)(
    'every run succeeds when $victim is SIGKILLed after $afterEnded jobs ended, and restarted',
    ({ victim, afterEnded }) =>
      withSeed(async () => {
        const runs = await fanOut(`kill-${victim}`);
        const endedAtKill = await endedAtLeast(runs, afterEnded);
        await killService(victim);
        process.stdout.write(`SIGKILL ${victim} with ${endedAtKill} of ${JOBS} jobs ended\n`);

        await expectAllSucceeded(runs);
        await expectEachEventOnce(runs);
        await expectNoDeadLetters();
      })(),
    WAIT_MS * 2,
  );

  it.each(schedule.servers)(
    'every run succeeds when $victim is SIGKILLed during dispatch (after $afterEnded jobs ended) and restarted by the stack with its data',
    ({ victim, afterEnded }: KillFault<ServerName>) =>
      withSeed(async () => {
        const runs = await fanOut(`kill-${victim}`, { data: true });
        const endedAtKill = await endedAtLeast(runs, afterEnded);
        await killServer(victim);
        process.stdout.write(`SIGKILL ${victim} with ${endedAtKill} of ${JOBS} jobs ended\n`);

        await expectAllSucceeded(runs);
        await expectEachEventOnce(runs);
        await expectOutputsOnce(`kill-${victim}`, runs);
        await expectNoDeadLetters();
      })(),
    WAIT_MS * 2,
  );

  it(
    `every run succeeds when the executor is SIGSTOPped past its work's ack wait (after ${schedule.stall.afterEnded} jobs ended, for ${schedule.stall.stoppedMs} ms), and its zombie attempts settle nothing`,
    withSeed(async () => {
      const runs = await fanOut('stall', { data: true, sleep: 0.5 });
      const endedAtStop = await endedAtLeast(runs, schedule.stall.afterEnded);
      const pid = stack.pid('executor')!;
      process.kill(pid, 'SIGSTOP');
      try {
        process.stdout.write(`SIGSTOP executor with ${endedAtStop} of ${JOBS} jobs ended\n`);
        await new Promise((resolve) => setTimeout(resolve, schedule.stall.stoppedMs));
      } finally {
        process.kill(pid, 'SIGCONT');
      }

      await expectAllSucceeded(runs);
      await expectEachEventOnce(runs);
      await expectOutputsOnce('stall', runs);
      await expectNoDeadLetters();
    }),
    WAIT_MS * 2,
  );

  it(
    `runs submitted while the catalog is down for ${schedule.outage.downMs / 1000} s wait, and complete once it is back (stopped after ${schedule.outage.afterEnded} jobs ended)`,
    withSeed(async () => {
      const before = await fanOut('outage-before', { data: true });
      const endedAtStop = await endedAtLeast(before, schedule.outage.afterEnded);
      await stack.stopService('catalog');
      const stoppedAt = Date.now();
      process.stdout.write(`catalog stopped with ${endedAtStop} of ${JOBS} jobs ended\n`);
      let during: RunView[];
      try {
        during = await fanOut('outage-during', { data: true });
        await new Promise((resolve) =>
          setTimeout(resolve, Math.max(0, schedule.outage.downMs - (Date.now() - stoppedAt))),
        );
        // Nothing that needs the catalog ended while it was away: it waited.
        const now = await views(during);
        expect(now.filter((run) => run.status !== 'running' && run.status !== 'queued')).toEqual(
          [],
        );
      } finally {
        await stack.startService('catalog');
      }

      for (const [label, runs] of [
        ['outage-before', before],
        ['outage-during', during],
      ] as const) {
        await expectAllSucceeded(runs);
        await expectEachEventOnce(runs);
        await expectOutputsOnce(label, runs);
      }
      await expectNoDeadLetters();
    }),
    WAIT_MS * 3,
  );

  it(
    `MNIST training resumes from its checkpoints when nats-server dies after epoch ${schedule.training.busAfterEpoch} and its executor after epoch ${schedule.training.executorAfterEpoch}, and trains no epoch before a checkpoint twice`,
    withSeed(async () => {
      const examples = await stack.examples();
      const imported = await importMnist({ gatewayUrl: stack.gatewayUrl, key });
      expect(imported.code).toBe(0);
      const spec = JSON.parse(
        (await readFile(path.join(root, 'examples/mnist/run.json'), 'utf8')).replaceAll(
          '{{examples}}',
          examples,
        ),
      ) as RunSpec;
      for (const step of spec.steps) {
        if (step.name !== 'train') continue;
        // A fixed configuration (no profiling runs) and fewer epochs keep the suite short.
        delete step.provision;
        // One CPU: epochs of a few seconds, long enough for each fault to land between checkpoints.
        step.resources = { cpu: 1, memoryMb: 1024 };
        step.env = { ...step.env, EPOCHS: String(EPOCHS) };
      }
      const submitted = await api('POST', '/api/v1/runs', spec);
      expect(submitted.status).toBe(202);
      const run = submitted.body as RunView;
      const train = run.jobs.find((j) => j.name === 'train')!;

      // Progress is read from the executor's own log, not from the job's view: the view is a read
      // model of the bus, which lags while nats-server recovers, by more than an epoch lasts.
      const checkpointed = (epoch: number) =>
        eventually(
          `train to checkpoint epoch ${epoch}`,
          async () => {
            const log = await readFile(path.join(stack.logDir, 'executor.log'), 'utf8');
            const saved = log
              .split('\n')
              .filter((line) => line.includes(train.id) && line.includes('"checkpoint saved"'))
              .map((line) => (JSON.parse(line) as { step: number | null }).step ?? 0);
            return Math.max(0, ...saved) >= epoch ? true : undefined;
          },
          WAIT_MS * 2,
          20,
        );
      await checkpointed(schedule.training.busAfterEpoch);
      await killServer('nats-server');
      process.stdout.write('SIGKILL nats-server during training\n');
      await checkpointed(schedule.training.executorAfterEpoch);
      await killService('executor');
      process.stdout.write('SIGKILL executor during training\n');

      const [done] = await expectAllSucceeded([run]);
      everyRun.push(done!);
      const history = await get<HistoryEntry[]>(`/api/v1/jobs/${train.id}/history`);
      expect(historyProblems(train.id, history)).toEqual([]);

      // Every attempt after the first starts after the last checkpoint made before it started:
      // no epoch a checkpoint covered runs again (epochs after it may: they were lost).
      const metrics = await get<MetricSeries>(`/api/v1/jobs/${train.id}/metrics`);
      const epochsOf = new Map<number, number[]>();
      for (const sample of metrics.series['loss'] ?? []) {
        epochsOf.set(sample.attempt, [...(epochsOf.get(sample.attempt) ?? []), sample.step!]);
      }
      const problems: string[] = [];
      let lastCheckpoint = 0;
      for (const event of history) {
        if (event.type === 'job.checkpointed') {
          lastCheckpoint = Math.max(lastCheckpoint, (event.data as { step: number }).step);
        }
        if (event.type !== 'job.started') continue;
        const attempt = (event.data as { attempt: number }).attempt;
        const trained = epochsOf.get(attempt) ?? [];
        if (trained.some((epoch) => epoch <= lastCheckpoint)) {
          problems.push(
            `attempt ${attempt} trained epochs ${trained.join()} after a checkpoint of epoch ${lastCheckpoint}`,
          );
        }
      }
      expect(problems).toEqual([]);
      expect(history.filter((e) => e.type === 'job.started').length).toBeGreaterThanOrEqual(2);
      const trainedEpochs = [...epochsOf.values()].flat().sort((a, b) => a - b);
      expect(new Set(trainedEpochs)).toEqual(
        new Set(Array.from({ length: EPOCHS }, (_, i) => i + 1)),
      );

      const report = await get<{ accuracy: number }>(
        '/api/v1/filesets/mnist-report/versions/latest/files/report.json',
      );
      expect(report.accuracy).toBeGreaterThan(0.96);
      await expectNoDeadLetters();
    }),
    WAIT_MS * 4,
  );

  it(
    'rebuilds the read models of every run above, by a replay interrupted by a SIGKILL of provenance, equal to those before',
    withSeed(async () => {
      const snapshot = async () => {
        const seen: unknown[] = [];
        for (const run of everyRun) {
          seen.push(await get(`/api/v1/runs/${run.id}`));
          for (const job of run.jobs) {
            seen.push(await get(`/api/v1/jobs/${job.id}`));
            seen.push(await get(`/api/v1/jobs/${job.id}/history`));
          }
        }
        return seen;
      };
      const before = await snapshot();
      expect(before.length).toBe(everyRun.reduce((sum, run) => sum + 1 + 2 * run.jobs.length, 0));

      // The first replay is interrupted: provenance dies once its build has applied some of the
      // log (the build's own checkpoint says how far), and its restart takes the replay over.
      const db = new pg.Client({ connectionString: stack.databaseUrl });
      await db.connect();
      try {
        const replay = await api('POST', '/api/v1/projections/job-history/replay');
        expect(replay.status).toBe(202);
        const built = await eventually(
          'the replay of job-history to be under way',
          async () => {
            const rows = await db.query<{ last_seq: string; status: string }>(
              `SELECT c.last_seq, r.status FROM provenance.projection_replays r
                 LEFT JOIN provenance.projection_checkpoints c ON c.projection = r.projection || '~replay'
                WHERE r.projection = 'job-history'`,
            );
            const row = rows.rows[0];
            if (row?.status !== undefined && row.status !== 'running') return 'ended';
            const seq = Number(row?.last_seq ?? 0);
            return seq > 0 ? seq : undefined;
          },
          WAIT_MS,
          5,
        );
        if (built === 'ended') {
          throw new Error(
            'the replay ended before provenance could be killed during it: lower ACAI_REPLAY_BATCH_SIZE above',
          );
        }
        await killService('provenance');
        process.stdout.write(`SIGKILL provenance with its replay built up to event ${built}\n`);
      } finally {
        await db.end();
      }

      for (const name of ['job-history', 'jobs', 'runs']) {
        if (name !== 'job-history') {
          const replay = await api('POST', `/api/v1/projections/${name}/replay`);
          expect(replay.status).toBe(202);
        }
        const view = await eventually(
          `the replay of ${name} to be swapped in`,
          async () => {
            const now = await get<ProjectionView>(`/api/v1/projections/${name}`);
            return now.replay?.status === 'succeeded' || now.replay?.status === 'failed'
              ? now
              : undefined;
          },
          WAIT_MS,
        );
        expect(view.replay?.status).toBe('succeeded');
      }
      expect(await snapshot()).toEqual(before);
      await expectNoDeadLetters();
    }),
    WAIT_MS * 2,
  );
});
