import { mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { context } from '@opentelemetry/api';
import {
  AcaiError,
  CancelJobControlSchema,
  Controls,
  ErrorCode,
  JOB,
  parseOrThrow,
  subjects,
  type CheckpointRef,
  type JobFailureReason,
  type NodeHeartbeat,
  type WorkAssignment,
} from '@acai/contracts';
import {
  AggregateRepository,
  decodeJson,
  describeError,
  encodeJson,
  inSpan,
  SpanKind,
  WorkConsumer,
  type WorkLease,
} from '@acai/eventing';
import type { CommonConfig, ConfigOf, ServiceContext } from '@acai/platform';
import { dispatchedState, endedAs, jobDecider, type JobCommand, type JobState } from '@acai/runs';
import type { Subscription } from '@nats-io/nats-core';
import { blobStoreFromUrl } from '@acai/blobstore';
import type { executorConfig } from '../config.js';
import { LogPublisher } from './log-publisher.js';
import { MetricsReporter } from './metrics-reporter.js';
import { CheckpointSaver } from './checkpoint-saver.js';
import { findProgram, Limits } from './limits.js';
import { folderVariable, Staging } from './staging.js';
import { ProcessRunner } from './process-runner.js';
import { WorkFolders } from './work-folders.js';

type ExecutorContext = ServiceContext<CommonConfig & ConfigOf<typeof executorConfig>>;

/** The folder of a job's folder it saves checkpoints in (`$ACAI_CHECKPOINT_DIR`). */
const CHECKPOINT_FOLDER = 'checkpoint';

/** How often failed jobs' folders past their time (and dead executors' folders) are removed. */
const SWEEP_EVERY_MS = 5 * 60_000;

/** Variables a job inherits from the executor's environment; everything else it gets explicitly. */
const INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'USER'];

/**
 * The executor's work loop: pulls jobs of its pool, runs each command in its own folder with no
 * shell, streams its output to the logs stream, and records start and end on the job. On shutdown
 * it stops pulling, lets running jobs finish within the grace period, then stops them and hands
 * their work back so another executor runs them again.
 */
export class JobRunner {
  private readonly jobs: AggregateRepository<JobState>;
  private readonly consumer: WorkConsumer;
  private readonly running = new Map<string, ProcessRunner>();
  private readonly leases = new Map<string, WorkLease>();
  /** Jobs whose work this executor handed back on shutdown: their end is not theirs to record. */
  private readonly handedBack = new Set<string>();
  /** Jobs asked to stop before this executor had started their process. */
  private readonly cancelled = new Set<string>();
  private cancelSubscription: Subscription | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private readonly folders: WorkFolders;
  private readonly startedAt = new Date().toISOString();
  private readonly staging: Staging;
  private limits!: Limits;
  private readonly slots: string[];
  private readonly freeSlots: string[];

  constructor(private readonly ctx: ExecutorContext) {
    this.jobs = new AggregateRepository(ctx.store, JOB, jobDecider);
    const executor = ctx.config.ACAI_EXECUTOR_ID.replace(/[^A-Za-z0-9_-]/g, '-');
    this.slots = Array.from(
      { length: ctx.config.ACAI_EXECUTOR_SLOTS },
      (_, i) => `${executor}-slot-${i}`,
    );
    this.freeSlots = [...this.slots];
    this.folders = new WorkFolders(
      path.resolve(ctx.config.ACAI_HOME, 'work'),
      ctx.config.ACAI_KEEP_FAILED_WORK_MINUTES * 60_000,
    );
    this.staging = new Staging(
      ctx.commands,
      blobStoreFromUrl(ctx.config.ACAI_BLOB_STORE ?? path.resolve(ctx.config.ACAI_HOME, 'blobs')),
    );
    this.consumer = new WorkConsumer(ctx.bus, {
      pool: ctx.config.ACAI_EXECUTOR_POOL,
      slots: ctx.config.ACAI_EXECUTOR_SLOTS,
      ackWaitMs: ctx.config.ACAI_WORK_ACK_WAIT_MS,
      logger: ctx.logger,
      handle: (lease) => context.with(lease.trace, () => this.run(lease)),
    });
  }

  get activeJobs(): number {
    return this.running.size;
  }

  async start(): Promise<void> {
    const swept = await this.folders.sweep({ atStart: true });
    if (swept.length > 0) {
      this.ctx.logger.info({ folders: swept }, 'removed work folders left by earlier executors');
    }
    this.sweeper = setInterval(() => {
      this.folders.sweep({ atStart: false }).catch((error: unknown) => {
        this.ctx.logger.warn({ err: describeError(error) }, 'could not sweep work folders');
      });
    }, SWEEP_EVERY_MS);
    this.sweeper.unref();
    this.limits = await Limits.detect();
    this.ctx.logger.info(
      { limits: this.limits.mode },
      `job limits are enforced with ${this.limits.mode}`,
    );
    this.cancelSubscription = this.ctx.bus.nc.subscribe(
      subjects.control(this.ctx.bus.topology, Controls.cancelJob),
      {
        callback: (err, msg) => {
          if (err !== null) return;
          try {
            const control = parseOrThrow(
              CancelJobControlSchema,
              decodeJson(msg.data),
              'cancel control',
            );
            const runner = this.running.get(control.jobId);
            if (runner !== undefined) {
              this.ctx.logger.info(
                { jobId: control.jobId, reason: control.reason },
                'stopping job on request',
              );
              runner.kill();
            } else {
              // It may be starting here (started is recorded before its inputs are staged): when
              // it gets to its spawn, it will see this and not run.
              this.cancelled.add(control.jobId);
              if (this.cancelled.size > 10_000)
                this.cancelled.delete(this.cancelled.values().next().value!);
            }
          } catch (error) {
            this.ctx.logger.warn(
              { err: describeError(error) },
              'ignored an unreadable cancel control',
            );
          }
        },
      },
    );
    await this.consumer.start();
    this.beat();
    this.heartbeat = setInterval(() => this.beat(), this.ctx.config.ACAI_NODE_HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Tells the provisioner this node is alive, what it is and how busy (`GET /api/v1/nodes`). */
  private beat(): void {
    const config = this.ctx.config;
    const heartbeat: NodeHeartbeat = {
      id: config.ACAI_EXECUTOR_ID,
      pool: config.ACAI_EXECUTOR_POOL,
      provider: config.ACAI_NODE_PROVIDER,
      instanceType: config.ACAI_NODE_INSTANCE_TYPE ?? null,
      cpu: os.availableParallelism(),
      memoryMb: Math.floor(os.totalmem() / 1024 / 1024),
      slots: config.ACAI_EXECUTOR_SLOTS,
      busy: this.running.size,
      jobs: [...this.running.keys()],
      startedAt: this.startedAt,
      limits: this.limits.mode,
    };
    try {
      this.ctx.bus.nc.publish(
        subjects.control(this.ctx.bus.topology, Controls.nodeHeartbeat),
        encodeJson(heartbeat),
      );
    } catch (error) {
      this.ctx.logger.warn({ err: describeError(error) }, 'could not send a node heartbeat');
    }
  }

  /** Graceful stop: no new work; running jobs get the grace period, then are stopped and handed back. */
  async stop(graceMs: number): Promise<void> {
    this.cancelSubscription?.unsubscribe();
    clearInterval(this.heartbeat);
    clearInterval(this.sweeper);
    await this.consumer.stop();
    const drained = this.consumer.drained();
    const timedOut = await Promise.race([
      drained.then(() => false),
      new Promise<boolean>((r) => setTimeout(() => r(true), graceMs).unref()),
    ]);
    if (timedOut) {
      this.ctx.logger.warn(
        { jobs: [...this.running.keys()] },
        'handing running jobs back to the queue',
      );
      for (const [jobId, lease] of this.leases) {
        this.handedBack.add(jobId);
        lease.release();
        this.running.get(jobId)?.kill(1_000);
      }
      await drained;
    }
    await this.limits.releaseSlots(this.slots);
  }

  private async run(lease: WorkLease): Promise<void> {
    const work = lease.work;
    await inSpan(
      `run ${work.name}`,
      {
        kind: SpanKind.INTERNAL,
        attributes: {
          'acai.service': this.ctx.name,
          'acai.job': work.jobId,
          'acai.run': work.runId,
        },
      },
      () => this.execute(lease),
    );
  }

  private async execute(lease: WorkLease): Promise<void> {
    const work = lease.work;
    const options = { correlationId: work.runId };
    // The work says what the job was when it was dispatched; start from that without a read. If the
    // job moved on since (cancelled, or this is a redelivery), the append conflicts, the job is
    // read, and the decision is made again on what it really is.
    this.jobs.prime(work.project, work.jobId, {
      version: work.dispatchedSeq,
      state: dispatchedState(work, this.ctx.config.ACAI_EXECUTOR_POOL),
    });
    let started: { events: unknown[]; state: JobState };
    try {
      started = await this.jobs.execute(
        work.project,
        work.jobId,
        (s) =>
          jobDecider.decide(
            { kind: 'start', executor: this.ctx.config.ACAI_EXECUTOR_ID, pid: null },
            s,
          ),
        options,
      );
    } catch (error) {
      if (!(error instanceof AcaiError) || error.code !== ErrorCode.Conflict) throw error;
      this.ctx.logger.info(
        { jobId: work.jobId, runId: work.runId, reason: error.message },
        'job cannot start; dropping its work',
      );
      await lease.complete();
      return;
    }
    if (started.events.length === 0) {
      this.ctx.logger.info(
        { jobId: work.jobId, status: started.state.status },
        'job already ended; dropping its work',
      );
      await lease.complete();
      return;
    }
    // A redelivered job (its executor died or handed it back) runs as the next attempt.
    const attempt = started.state.attempt;
    const log = { jobId: work.jobId, runId: work.runId, project: work.project, attempt };
    const workDir = await this.folders.create(work.jobId, attempt);
    // Removed once the attempt is over, unless it failed (then kept a while for debugging).
    let failedFolder = false;
    const checkpointDir = path.resolve(workDir, CHECKPOINT_FOLDER);
    await mkdir(checkpointDir, { recursive: true });
    for (const output of work.outputs)
      await mkdir(path.resolve(workDir, output.path), { recursive: true });
    const logs = new LogPublisher(this.ctx.bus, work.project, work.jobId, attempt);
    const env = this.environment(work, attempt, workDir);
    const checkpointFileset = `checkpoints-${work.jobId}`;
    const program = work.command[0]!;
    // The job runs behind a trampoline that joins its cgroups: find the program first, so a
    // missing one is still `command_not_found` rather than the trampoline's exit code.
    const found = await findProgram(program, env['PATH'], workDir);
    // At most `slots` jobs run at once (the work consumer sees to it), so a slot is always free.
    const slot = this.freeSlots.pop()!;
    const confined =
      found === undefined
        ? undefined
        : await this.limits.confine(slot, work.command, work.resources);
    const metrics = new MetricsReporter(
      async (points) => {
        await this.jobs.execute(
          work.project,
          work.jobId,
          (s) => jobDecider.decide({ kind: 'report_metrics', data: { attempt, points } }, s),
          options,
        );
      },
      (note) => logs.line('err', note),
    );
    const checkpoints = new CheckpointSaver(
      checkpointDir,
      async (step) => {
        const version = await this.staging.saveFolder(
          work,
          checkpointDir,
          checkpointFileset,
          [],
          attempt,
        );
        await this.jobs.execute(
          work.project,
          work.jobId,
          (s) =>
            jobDecider.decide(
              {
                kind: 'record_checkpoint',
                data: { attempt, fileset: checkpointFileset, version, step },
              },
              s,
            ),
          options,
        );
        this.ctx.logger.info({ ...log, version, step }, 'checkpoint saved');
      },
      (note) => logs.line('err', note),
    );
    // One object, filled in further below once the checkpoint to resume from is in place.
    const processEnv = { ...env, ...(confined?.env ?? Limits.threadEnv(work.resources)) };
    const runner = new ProcessRunner(confined?.argv ?? work.command, {
      cwd: workDir,
      env: processEnv,
      onLine: (stream, line) => {
        logs.line(stream, line);
        if (stream === 'out') {
          metrics.line(line);
          checkpoints.line(line);
        }
      },
    });

    const startedAt = Date.now();
    this.running.set(work.jobId, runner);
    this.leases.set(work.jobId, lease);
    try {
      const failure = (
        reason: JobFailureReason,
        message: string,
        exit?: { code: number | null; signal: string | null },
      ): JobCommand => ({
        kind: 'fail',
        data: {
          reason,
          message,
          exitCode: exit?.code ?? null,
          signal: exit?.signal ?? null,
          durationMs: Date.now() - startedAt,
          lastLines: logs.lastLines(),
        },
      });
      let command: JobCommand | undefined;
      try {
        const staged = await this.staging.stageInputs(work, workDir);
        if (staged > 0) {
          this.ctx.logger.info(
            { ...log, files: staged, method: this.staging.method },
            'inputs staged',
          );
        }
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        logs.line('err', `acai: ${message}`);
        command = failure('staging_failed', message);
      }
      const resumeFrom = started.state.checkpoint;
      if (command === undefined && resumeFrom !== null) {
        processEnv['ACAI_CHECKPOINT_STEP'] = await this.restore(
          work,
          resumeFrom,
          checkpointDir,
          (line) => logs.line('err', line),
        );
      }
      if (command === undefined && found === undefined) {
        const message = `command '${program}' was not found on the executor's PATH; check the step's command or install the program`;
        logs.line('err', message);
        command = failure('command_not_found', message);
      }
      if (command === undefined && this.cancelled.delete(work.jobId)) {
        this.ctx.logger.info(log, 'job was cancelled while it started; not running it');
        await logs.end('cancelled');
        await lease.complete();
        return;
      }
      const spawned = command === undefined ? await runner.start() : undefined;
      let timedOut = false;
      const timer =
        spawned?.ok === true && work.timeoutSeconds !== null
          ? setTimeout(() => {
              timedOut = true;
              runner.kill(2_000);
            }, work.timeoutSeconds * 1000)
          : undefined;
      const exit = spawned?.ok === true ? await runner.exited : undefined;
      clearTimeout(timer);
      await checkpoints.close();
      await metrics.close();
      const durationMs = Date.now() - startedAt;
      if (this.handedBack.has(work.jobId)) {
        // Stopped by our own shutdown: the next attempt, elsewhere, will record the outcome.
        this.ctx.logger.info({ ...log, durationMs }, 'job handed back to the queue');
        return;
      }
      if (spawned !== undefined && !spawned.ok) {
        this.ctx.logger.warn({ ...log, reason: spawned.reason }, spawned.message);
        logs.line('err', spawned.message);
        command = failure(spawned.reason, spawned.message);
      } else if (exit !== undefined && timedOut) {
        command = failure(
          'timed_out',
          `the job ran longer than its limit of ${work.timeoutSeconds ?? 0} s and was stopped; raise timeoutSeconds if it needs longer`,
          exit,
        );
      } else if (
        exit !== undefined &&
        exit.code !== 0 &&
        (await confined?.outOfMemory()) === true
      ) {
        command = failure(
          'out_of_memory',
          `the job used more than its ${work.resources.memoryMb} MiB of memory and was stopped; ask for more with resources.memoryMb`,
          exit,
        );
      } else if (exit !== undefined && exit.code !== 0) {
        command =
          exit.signal !== null
            ? failure('killed', `the process was killed by ${exit.signal}`, exit)
            : failure(
                'nonzero_exit',
                `the process exited with code ${exit.code ?? 'unknown'}; see the last lines of its output`,
                exit,
              );
      } else if (exit !== undefined) {
        try {
          const outputs = await this.staging.saveOutputs(work, workDir, attempt);
          command = { kind: 'succeed', durationMs, outputs };
        } catch (error) {
          const message = `saving outputs failed: ${error instanceof Error ? error.message : String(error)}`;
          logs.line('err', `acai: ${message}`);
          command = failure('output_failed', message, exit);
        }
      }
      if (command === undefined) throw new Error('unreachable: a job ended with no outcome');
      const decided = command;
      const { state } = await this.jobs.execute(
        work.project,
        work.jobId,
        (s) => jobDecider.decide(decided, s),
        options,
      );
      const status = endedAs(state);
      failedFolder = status === 'failed';
      this.ctx.logger.info(
        { ...log, status, exitCode: exit?.code ?? null, durationMs },
        'job ended',
      );
      await logs.end(status);
      await lease.complete();
    } finally {
      await this.limits.clear(slot);
      await this.disposeFolder(workDir, work.jobId, attempt, failedFolder);
      this.freeSlots.push(slot);
      this.running.delete(work.jobId);
      this.leases.delete(work.jobId);
      this.handedBack.delete(work.jobId);
    }
  }

  /** A finished attempt's folder: kept for a while when it failed, removed otherwise. */
  private async disposeFolder(
    dir: string,
    jobId: string,
    attempt: number,
    failed: boolean,
  ): Promise<void> {
    try {
      if (!failed) {
        await this.folders.remove(dir);
        return;
      }
      const kept = await this.folders.keepFailed(dir, jobId, attempt);
      this.ctx.logger.info(
        { jobId, attempt, folder: kept, minutes: this.ctx.config.ACAI_KEEP_FAILED_WORK_MINUTES },
        'kept the failed job’s folder for debugging',
      );
    } catch (error) {
      this.ctx.logger.warn({ jobId, err: describeError(error) }, 'could not tidy a job’s folder');
    }
  }

  /**
   * Puts the last checkpoint of an earlier attempt into the checkpoint folder. A checkpoint that
   * cannot be restored (evicted, damaged) is not fatal: the job starts from the beginning, and its
   * log says so. Answers the step restored ('' when the checkpoint named none or none was restored).
   */
  private async restore(
    work: WorkAssignment,
    checkpoint: CheckpointRef,
    folder: string,
    say: (line: string) => void,
  ): Promise<string> {
    const name = `${checkpoint.fileset}@${checkpoint.version}`;
    try {
      // The job goes on writing its checkpoints into this folder.
      await this.staging.stageVersion(
        work.project,
        checkpoint.fileset,
        checkpoint.version,
        folder,
        { writable: true },
      );
      say(
        `acai: resuming from checkpoint ${name}${checkpoint.step === null ? '' : ` (step ${checkpoint.step})`}`,
      );
      this.ctx.logger.info({ jobId: work.jobId, checkpoint: name }, 'resuming from checkpoint');
      return checkpoint.step === null ? '' : String(checkpoint.step);
    } catch (error) {
      await rm(folder, { recursive: true, force: true });
      await mkdir(folder, { recursive: true });
      say(
        `acai: could not restore checkpoint ${name} (${error instanceof Error ? error.message : String(error)}); starting from the beginning`,
      );
      return '';
    }
  }

  private environment(work: WorkAssignment, attempt: number, workDir: string): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const name of INHERITED_ENV)
      if (process.env[name] !== undefined) env[name] = process.env[name];
    return {
      ...env,
      ...work.env,
      ACAI_PROJECT: work.project,
      ACAI_RUN_ID: work.runId,
      ACAI_JOB_ID: work.jobId,
      ACAI_JOB_NAME: work.name,
      ACAI_ATTEMPT: String(attempt),
      ACAI_WORK_DIR: workDir,
      ACAI_CHECKPOINT_DIR: path.resolve(workDir, CHECKPOINT_FOLDER),
      ACAI_CPUS: String(work.resources.cpu),
      ...Object.fromEntries(
        work.inputs.map((i) => [folderVariable('INPUT', i.fileset), path.resolve(workDir, i.path)]),
      ),
      ...Object.fromEntries(
        work.outputs.map((o) => [
          folderVariable('OUTPUT', o.fileset),
          path.resolve(workDir, o.path),
        ]),
      ),
      ACAI_MEMORY_MB: String(work.resources.memoryMb),
    };
  }
}
