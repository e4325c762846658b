import { chown, lchown, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CheckpointRef, InputLoad, WorkAssignment } from '@acai/contracts';
import {
  describeError,
  inSpan,
  SpanKind,
  untilAvailable,
  type EventingLogger,
  type WorkLease,
} from '@acai/eventing';
import { type LogPublisher, type Attempt, type JobAttempts, type JobEnd } from '@acai/execution';
import {
  outcomeOf,
  type AttemptFacts,
  type AttemptOutcome,
  type AttemptSightings,
} from '@acai/runs';
import { CheckpointSaver } from './checkpoint-saver.js';
import { findProgram, Limits, type Confined } from './limits.js';
import { MetricsReporter } from './metrics-reporter.js';
import { ProcessRunner, type Exit } from './process-runner.js';
import { ENV_FILE, envFileText, TMP_FOLDER, type Sandbox, type Slot } from './sandbox.js';
import type { Spawner } from './spawner/spawner.js';
import { folderVariable, type Staging } from './staging.js';
import type { WorkFolders } from './work-folders.js';

/** The folder of a job's folder it saves checkpoints in (`$ACAI_CHECKPOINT_DIR`). */
const CHECKPOINT_FOLDER = 'checkpoint';

export interface JobRunnerOptions {
  /** This executor's id (in `job.started`) and the pool it pulls from. */
  readonly executor: string;
  readonly pool: string;
  /** Its slots (one job each): cgroups are kept per slot, and each has its user when sandboxed. */
  readonly slots: readonly Slot[];
  readonly sandbox: Sandbox;
  /** Forks the jobs (a small process of its own, so that a fork does not copy the executor). */
  readonly spawner: Spawner;
  /** The `PATH` jobs get (nothing of the executor's own environment reaches a job). */
  readonly jobPath: string;
  /** The values of a project's secrets (asked of the gateway when a job names some). */
  readonly secrets: (project: string, names: string[]) => Promise<Record<string, string>>;
  readonly keepFailedMinutes: number;
  readonly attempts: JobAttempts;
  readonly staging: Staging;
  readonly folders: WorkFolders;
  readonly limits: Limits;
  /** Where an attempt's output lines go. */
  readonly logs: (work: WorkAssignment, attempt: number) => LogPublisher;
  readonly logger: EventingLogger;
  /** The node heartbeats heard: whether a job's attempt on another executor is alive. */
  readonly sightings: AttemptSightings;
  /**
   * An executor not heard for `windowMs` is gone; one not heard although heartbeats were heard for
   * `listenMs` (a little over one heartbeat) is too.
   */
  readonly heard: { readonly windowMs: number; readonly listenMs: number };
}

/** One attempt being run here, with what it needs to be stopped. */
interface Running {
  readonly process: ProcessRunner;
  readonly lease: WorkLease;
  readonly attempt: Attempt;
  handedBack: boolean;
  /** Its process has ended: what is left is recording the outcome. */
  ended: boolean;
  /** Asked to checkpoint and stop, to move to another configuration (`job.rescale_requested`). */
  rescaling: boolean;
}

/**
 * Runs the jobs an executor pulls, one attempt per work lease, in four stages: begin the attempt
 * (the shared protocol, `@acai/execution`), stage its inputs and run its command under its limits
 * in its own folder with no shell (output streamed to the logs stream, metrics and checkpoints
 * recorded as printed), classify how it ended (`outcomeOf`), and record that, saving its outputs
 * as new versions first if it succeeded and still owns the job.
 */
export class JobRunner {
  private readonly running = new Map<string, Running>();
  /** How many works of each job are being handled here (begun, run or recorded). */
  private readonly here = new Map<string, number>();
  /** Jobs asked to stop before their process started here. */
  private readonly cancelledEarly = new Set<string>();
  private readonly freeSlots: Slot[];

  constructor(private readonly options: JobRunnerOptions) {
    this.freeSlots = [...options.slots];
  }

  /** The jobs running here now, or being begun or recorded (what this node's heartbeat lists). */
  get jobIds(): string[] {
    const handedBack = new Set(
      [...this.running].filter(([, r]) => r.handedBack).map(([jobId]) => jobId),
    );
    return [...new Set([...this.running.keys(), ...this.here.keys()])].filter(
      (jobId) => !handedBack.has(jobId),
    );
  }

  /** The project of each job running here, by job id. */
  get jobProjects(): Record<string, string> {
    return Object.fromEntries(
      [...this.running].map(([jobId, { lease }]) => [jobId, lease.work.project]),
    );
  }

  /** Stops the job if it runs here (its whole process group), or keeps it from starting. */
  cancel(jobId: string, reason: string): void {
    const running = this.running.get(jobId);
    if (running !== undefined) {
      this.options.logger.info({ jobId, reason }, 'stopping job on request');
      running.process.kill();
      return;
    }
    // It may be starting here (started is recorded before its inputs are staged): when it gets
    // to its spawn, it will see this and not run.
    this.cancelledEarly.add(jobId);
    if (this.cancelledEarly.size > 10_000) {
      this.cancelledEarly.delete(this.cancelledEarly.values().next().value!);
    }
  }

  /**
   * Asks the job to checkpoint and stops it, to move it to another configuration: SIGTERM to its
   * process group (the job saves its state, prints its `##acai checkpoint` line and exits), then
   * SIGKILL after `graceSeconds`. When it has stopped, its checkpoints saved, the attempt is
   * recorded as rescaled whatever its exit code. Only the attempt named: an older or newer one
   * running here is not this request's.
   */
  rescale(jobId: string, attemptNumber: number, graceSeconds: number, reason: string): void {
    const running = this.running.get(jobId);
    if (running === undefined || running.attempt.number !== attemptNumber) return;
    if (running.ended || running.handedBack || running.rescaling) return;
    running.rescaling = true;
    this.options.logger.info(
      { jobId, attempt: attemptNumber, graceSeconds, reason },
      'asking the job to checkpoint and stop: it moves to another configuration',
    );
    running.process.kill(graceSeconds * 1000);
  }

  /**
   * Stops each job here whose attempt the log says no longer owns it: cancelled, or taken over by a
   * newer attempt, while this executor did not hear of it (the cancel control is a core NATS
   * message: one sent while this executor was disconnected never arrives). Asked when the bus
   * comes back and every so often. Answers the jobs stopped.
   */
  async reconcile(): Promise<string[]> {
    const stopped: string[] = [];
    for (const [jobId, running] of [...this.running]) {
      if (running.handedBack || running.ended) continue;
      let owns: boolean;
      let pending: Awaited<ReturnType<Attempt['check']>>['rescale'];
      try {
        ({ owns, rescale: pending } = await running.attempt.check());
      } catch (error) {
        this.options.logger.debug(
          { jobId, err: describeError(error) },
          'could not ask the log whether a running job is still ours',
        );
        continue;
      }
      // A move asked while this executor did not hear it: made now.
      if (pending !== null && !running.rescaling && this.running.get(jobId) === running) {
        this.rescale(jobId, pending.attempt, pending.graceSeconds, pending.reason);
      }
      if (owns || running.ended || this.running.get(jobId) !== running) continue;
      this.options.logger.warn(
        { jobId, attempt: running.attempt.number },
        'stopping a job the log says was cancelled or taken over while this executor did not hear it',
      );
      running.process.kill();
      stopped.push(jobId);
    }
    return stopped;
  }

  /** Gives every running job's work back to the queue and stops its process (shutdown). */
  handBackAll(): void {
    for (const [jobId, running] of this.running) {
      running.handedBack = true;
      running.lease.release();
      running.process.kill(1_000);
      this.options.logger.warn({ jobId }, 'handing the job back to the queue');
    }
  }

  /** Runs the attempt a work lease carries, to its recorded end. */
  run(lease: WorkLease): Promise<void> {
    const work = lease.work;
    return inSpan(
      `run ${work.name}`,
      {
        kind: SpanKind.INTERNAL,
        attributes: { 'acai.service': 'executor', 'acai.job': work.jobId, 'acai.run': work.runId },
      },
      async () => {
        const jobId = work.jobId;
        // Counted from its start to its end, so that a copy of its work arriving meanwhile (even
        // before its attempt is begun, or while its end is recorded) is seen as one.
        this.here.set(jobId, (this.here.get(jobId) ?? 0) + 1);
        try {
          const attempt = await this.options.attempts.begin(lease, {
            executor: this.options.executor,
            pool: this.options.pool,
            holder: {
              // Another executor's attempt is alive as that executor's heartbeats tell.
              alive: (executor, id, startedAt) =>
                this.options.sightings.alive(executor, id, startedAt, this.options.heard),
              runsHere: (id) => (this.here.get(id) ?? 0) > (id === jobId ? 1 : 0),
              retryInMs: () =>
                Math.max(250, this.options.sightings.knownInMs(this.options.heard.listenMs)),
            },
          });
          if (attempt !== undefined) await this.runAttempt(lease, attempt);
        } finally {
          const left = (this.here.get(jobId) ?? 1) - 1;
          if (left === 0) this.here.delete(jobId);
          else this.here.set(jobId, left);
        }
      },
    );
  }

  private async runAttempt(lease: WorkLease, attempt: Attempt): Promise<void> {
    // At most `slots` jobs run at once (the work consumer sees to it), so a slot is always free.
    const slot = this.freeSlots.pop()!;
    try {
      await this.runInSlot(lease, attempt, slot);
    } finally {
      this.freeSlots.push(slot);
    }
  }

  private async runInSlot(lease: WorkLease, attempt: Attempt, slot: Slot): Promise<void> {
    const work = lease.work;
    const log = {
      jobId: work.jobId,
      runId: work.runId,
      project: work.project,
      attempt: attempt.number,
    };
    const owner = slot.user ?? undefined;
    const folder = await this.options.folders.create(work.jobId, attempt.number, owner);
    const checkpointDir = path.resolve(folder, CHECKPOINT_FOLDER);
    await mkdir(checkpointDir, { recursive: true });
    for (const output of work.outputs)
      await mkdir(path.resolve(folder, output.path), { recursive: true });
    const logs = this.options.logs(work, attempt.number);
    const env = this.environment(work, attempt.number, folder, slot);
    // The job runs behind a trampoline: find the program first, so a missing one is still
    // `command_not_found` rather than the trampoline's exit code.
    const program = work.command[0]!;
    const found = await findProgram(program, env['PATH'], folder);
    const refused = this.options.sandbox.refuses(work.network);
    const confined =
      found === undefined
        ? undefined
        : await this.options.limits.confine(slot.name, work.resources);
    const metrics = new MetricsReporter(
      (points, batch) => attempt.reportMetrics(points, batch),
      (note) => logs.line('err', note),
    );
    const checkpointFileset = `checkpoints-${work.jobId}`;
    /** Checkpoints saved by this attempt: each save's own commit key. */
    let saves = 0;
    const checkpoints = new CheckpointSaver(
      checkpointDir,
      async (step) => {
        // The metrics of what the checkpoint covers are recorded first.
        await metrics.settle();
        saves += 1;
        const version = await this.options.staging.saveFolder(
          work,
          checkpointDir,
          checkpointFileset,
          [],
          attempt.number,
          `${work.jobId}.${attempt.number}.checkpoint.${saves}`,
          owner?.uid,
        );
        await attempt.recordCheckpoint({ fileset: checkpointFileset, version, step });
        this.options.logger.info({ ...log, version, step }, 'checkpoint saved');
      },
      (note) => logs.line('err', note),
    );
    const processEnv = { ...env, ...(confined?.env ?? Limits.threadEnv(work.resources)) };
    const envFile = path.join(folder, ENV_FILE);
    const tmpDir = path.join(folder, TMP_FOLDER);
    const launch = this.options.sandbox.launch(slot, work.command, {
      cgroupProcs: confined?.cgroupProcs ?? [],
      envFile,
      network: work.network,
    });
    /** The slot cleared once the job's process exited: whether it is empty since. */
    let clearedAfterExit: Promise<boolean> | undefined;
    let slotEmpty = false;
    const proc = new ProcessRunner(launch.argv, {
      spawner: this.options.spawner,
      cwd: folder,
      env: launch.env,
      handOver: launch.handOver,
      afterExit: () => (clearedAfterExit = this.clearSlot(slot)),
      onLine: (stream, line) => {
        logs.line(stream, line);
        if (stream === 'out') {
          metrics.line(line);
          checkpoints.line(line);
        }
      },
    });
    const running: Running = {
      process: proc,
      lease,
      attempt,
      handedBack: false,
      ended: false,
      rescaling: false,
    };
    // Its work delivered again while an older attempt still runs here (the bus was away longer than
    // the ack wait): that attempt is superseded by this one, in the log, so it is stopped, and this
    // one is the job's attempt here from now on (listed in heartbeats, cancelled on request).
    const older = this.running.get(work.jobId);
    if (older !== undefined && !older.ended) {
      this.options.logger.warn(
        { ...log, olderAttempt: older.attempt.number },
        'a newer attempt of a job running here starts; stopping the older one',
      );
      older.process.kill();
    }
    this.running.set(work.jobId, running);
    let end: JobEnd | 'handed back' | 'not run' = 'not run';
    try {
      const startedAt = Date.now();
      // Stage: inputs in place, the checkpoint to resume from, the program found.
      const loads: InputLoad[] = [];
      let notStarted = await this.stage(
        work,
        attempt,
        folder,
        checkpointDir,
        processEnv,
        logs,
        loads,
      );
      if (notStarted === undefined && refused !== undefined) {
        logs.line('err', `acai: ${refused}`);
        notStarted = { reason: 'spawn_error', message: refused };
      }
      if (notStarted === undefined && found === undefined) {
        const message = `command '${program}' was not found on the executor's PATH; check the step's command or install the program`;
        logs.line('err', message);
        notStarted = { reason: 'command_not_found', message };
      }
      if (notStarted === undefined && this.cancelledEarly.delete(work.jobId)) {
        this.options.logger.info(log, 'job was cancelled while it started; not running it');
        await logs.end('cancelled');
        await lease.complete();
        return;
      }
      // Run: the folder's writable parts handed to the job's user, its environment in a file only
      // that user can read (removed as the job starts).
      if (notStarted === undefined) {
        try {
          if (owner !== undefined) {
            // Its /tmp: on disk, in its folder, gone with it.
            await mkdir(tmpDir, { mode: 0o700 });
            await this.handOver(folder, checkpointDir, work, owner);
            await chown(tmpDir, owner.uid, owner.gid);
          }
          await writeFile(envFile, envFileText(processEnv as Record<string, string>), {
            mode: 0o600,
          });
          if (owner !== undefined) await chown(envFile, owner.uid, owner.gid);
        } catch (error) {
          // A failed start, recorded as one, rather than an attempt that never ends.
          const message = `could not prepare the job's folder: ${error instanceof Error ? error.message : String(error)}`;
          logs.line('err', `acai: ${message}`);
          notStarted = { reason: 'spawn_error', message };
        }
      }
      const ran = notStarted === undefined ? await this.execute(proc, work, confined) : undefined;
      running.ended = true;
      // Whatever the job left running (in the background, to go on writing) ends before its
      // folder is read: cleared as its process exited, or now. Nothing starts in an empty slot.
      slotEmpty =
        (await clearedAfterExit?.catch(() => false)) === true || (await this.clearSlot(slot));
      await checkpoints.close();
      await metrics.close();
      if (running.handedBack) {
        // Stopped by our own shutdown: the next attempt, elsewhere, records the outcome.
        end = 'handed back';
        this.options.logger.info(
          { ...log, durationMs: Date.now() - startedAt },
          'job handed back to the queue',
        );
        return;
      }
      if (ran?.spawnFailure !== undefined) {
        this.options.logger.warn(
          { ...log, reason: ran.spawnFailure.reason },
          ran.spawnFailure.message,
        );
        logs.line('err', ran.spawnFailure.message);
        notStarted = ran.spawnFailure;
      }
      if (running.rescaling && notStarted === undefined) {
        // Stopped on request to move: whatever it exited with, the job goes on elsewhere.
        const durationMs = Date.now() - startedAt;
        logs.line('err', 'acai: stopped to move to another configuration; it resumes there');
        end = await untilAvailable(() => attempt.endForRescale(durationMs), {
          logger: this.options.logger,
          context: { jobId: work.jobId, attempt: attempt.number },
        });
        this.options.logger.info({ ...log, status: end, durationMs }, 'job stopped to rescale');
        if (end === 'superseded') {
          // Nothing of it is recorded: a newer attempt owns the job.
        } else if (end === 'rescaled' || end === 'retrying') await logs.close();
        else await logs.end(end);
        await attempt.letGo(end).catch((error: unknown) => {
          this.options.logger.debug({ ...log, err: describeError(error) }, 'work already settled');
        });
        return;
      }
      // Classify.
      const facts: AttemptFacts = {
        attempt: attempt.number,
        ...(notStarted === undefined ? {} : { notStarted }),
        ...(ran?.exit === undefined ? {} : { exit: ran.exit }),
        timedOut: ran?.timedOut ?? false,
        outOfMemory: ran?.outOfMemory ?? false,
        timeoutSeconds: work.timeoutSeconds,
        memoryMb: work.resources.memoryMb,
        durationMs: Date.now() - startedAt,
        lastLines: logs.lastLines(),
      };
      // Record.
      end = await this.record(
        work,
        attempt,
        folder,
        outcomeOf(facts),
        facts.durationMs,
        logs,
        owner?.uid,
        loads,
      );
      this.options.logger.info(
        { ...log, status: end, exitCode: ran?.exit?.code ?? null, durationMs: facts.durationMs },
        end === 'superseded'
          ? 'job was taken over by a newer attempt; nothing recorded'
          : 'job ended',
      );
      // A retried attempt's output has no end: the job's goes on with its next attempt.
      if (end === 'retrying' || end === 'rescaled') await logs.close();
      else if (end !== 'superseded') await logs.end(end);
      if (logs.linesLost > 0) {
        this.options.logger.warn(
          { ...log, lines: logs.linesLost },
          'lines of the job’s output were lost: the bus was unreachable for too long',
        );
      }
      await attempt.letGo(end).catch((error: unknown) => {
        // A superseded attempt's delivery may be gone: nothing to settle.
        this.options.logger.debug({ ...log, err: describeError(error) }, 'work already settled');
      });
    } finally {
      if (!slotEmpty) await this.clearSlot(slot);
      await this.disposeFolder(
        folder,
        work.jobId,
        attempt.number,
        end === 'failed' || end === 'retrying',
      );
      // Only its own entry: a newer attempt of the job may have started here since.
      if (this.running.get(work.jobId) === running) this.running.delete(work.jobId);
    }
  }

  /**
   * Kills whatever runs in the slot: by its cgroups (a job cannot leave them, and reading them is
   * cheap), or, without cgroups, by its user when sandboxed (a scan of every process). Answers
   * whether the slot is known to be empty now (never without cgroups: a scan is not sure of it).
   */
  private async clearSlot(slot: Slot): Promise<boolean> {
    if (this.options.limits.mode !== 'none') return this.options.limits.clear(slot.name);
    await this.options.sandbox.clear(slot);
    return false;
  }

  /** Inputs staged and the checkpoint restored; undefined when all is in place, else why not. */
  private async stage(
    work: WorkAssignment,
    attempt: Attempt,
    folder: string,
    checkpointDir: string,
    env: NodeJS.ProcessEnv,
    logs: LogPublisher,
    /** Filled with how long each input took to stage (its load time, in `job.succeeded`). */
    loads: InputLoad[],
  ): Promise<AttemptFacts['notStarted']> {
    try {
      const staged = await this.options.staging.stageInputs(work, folder);
      loads.push(...staged.loads);
      if (staged.files > 0) {
        this.options.logger.info(
          {
            jobId: work.jobId,
            attempt: attempt.number,
            files: staged.files,
            ms: staged.loads.reduce((sum, l) => sum + l.ms, 0),
            method: this.options.staging.method,
          },
          'inputs staged',
        );
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      logs.line('err', `acai: ${message}`);
      return { reason: 'staging_failed', message };
    }
    const secrets = Object.entries(work.secrets);
    if (secrets.length > 0) {
      // Into the job's environment file only: never an event, a log line or a version's creator.
      try {
        const values = await this.options.secrets(work.project, [
          ...new Set(secrets.map(([, name]) => name)),
        ]);
        for (const [variable, name] of secrets) env[variable] = values[name];
      } catch (error) {
        const message = `could not get the job's secrets (${secrets.map(([, n]) => n).join(', ')}): ${error instanceof Error ? error.message : String(error)}`;
        logs.line('err', `acai: ${message}`);
        return { reason: 'staging_failed', message };
      }
    }
    if (attempt.checkpoint !== null) {
      env['ACAI_CHECKPOINT_STEP'] = await this.restore(
        work,
        attempt.checkpoint,
        checkpointDir,
        (line) => logs.line('err', line),
      );
    }
    return undefined;
  }

  /** Starts the process and waits for its end, stopping it at its time limit. */
  private async execute(
    proc: ProcessRunner,
    work: WorkAssignment,
    confined: Confined | undefined,
  ): Promise<{
    spawnFailure?: NonNullable<AttemptFacts['notStarted']>;
    exit?: Exit;
    timedOut: boolean;
    outOfMemory: boolean;
  }> {
    const spawned = await proc.start();
    if (!spawned.ok) {
      return {
        spawnFailure: { reason: spawned.reason, message: spawned.message },
        timedOut: false,
        outOfMemory: false,
      };
    }
    let timedOut = false;
    const timer =
      work.timeoutSeconds === null
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            proc.kill(2_000);
          }, work.timeoutSeconds * 1000);
    const exit = await proc.exited;
    clearTimeout(timer);
    const outOfMemory = exit.code !== 0 && (await confined?.outOfMemory()) === true;
    return { exit, timedOut, outOfMemory };
  }

  /**
   * Records the attempt's end. A success saves the outputs as new versions first, but only while
   * the attempt still owns the job: a superseded attempt's files never become versions.
   *
   * How it knows: it asks the log (`Attempt.standing`, one read of what was appended since) after
   * every file is stored as a blob and right before the versions are committed, then commits and
   * records the end. A newer attempt exists only once JetStream has handed the work to another
   * executor, which it does only after this one's lease went unrenewed for the ack wait
   * (`ACAI_WORK_ACK_WAIT_MS`, 30 s), so what is left open is this executor stalling for that long
   * between the read and the catalog's commit, a few milliseconds of work. The alternatives cost
   * more than they close:
   * - committing after settling (job.succeeded first, then the versions) would let the run go on
   *   to steps that read outputs not yet there, and lose them if the executor died in between;
   * - claiming the job first (an event that keeps newer attempts from starting while the outputs
   *   are saved) would turn an executor that dies while saving into a failed job instead of a
   *   retried one, and still leave the same stall open, only now against the watchdog;
   * - a commit the catalog makes only if the job is still at the version read here needs one
   *   append over two subjects, which nats-server 2.9 cannot do (atomic batches came in 2.12).
   * Blobs stored by an attempt that then learns it was superseded are used by no version, like
   * an upload that was never committed.
   */
  private async record(
    work: WorkAssignment,
    attempt: Attempt,
    folder: string,
    outcome: AttemptOutcome,
    durationMs: number,
    logs: LogPublisher,
    owner: number | undefined,
    loads: readonly InputLoad[],
  ): Promise<JobEnd> {
    // The end is appended whatever the bus does meanwhile: a job that ran is not failed because
    // nats-server was away when it ended (the append is repeated, and stored once, see `end`).
    const patiently = <T>(operation: () => Promise<T>) =>
      untilAvailable(operation, {
        logger: this.options.logger,
        context: { jobId: work.jobId, attempt: attempt.number },
      });
    if (!outcome.ok) return patiently(() => attempt.end({ ok: false, failure: outcome.failure }));
    // With no outputs to save there is nothing to keep a superseded attempt from committing: its
    // end is fenced by the job's own decision, so the log is not read again.
    let standing = 'owner' as 'owner' | JobEnd;
    let outputs: Awaited<ReturnType<Staging['saveOutputs']>>;
    try {
      outputs = await this.options.staging.saveOutputs(
        work,
        folder,
        attempt.number,
        owner,
        async () => (standing = await patiently(() => attempt.standing())) === 'owner',
      );
    } catch (error) {
      const message = `saving outputs failed: ${error instanceof Error ? error.message : String(error)}`;
      logs.line('err', `acai: ${message}`);
      return patiently(() =>
        attempt.end({
          ok: false,
          failure: {
            reason: 'output_failed',
            message,
            exitCode: 0,
            signal: null,
            durationMs,
            lastLines: logs.lastLines(),
            attempt: attempt.number,
          },
        }),
      );
    }
    if (outputs === undefined) return standing === 'owner' ? 'superseded' : standing;
    return patiently(() => attempt.end({ ok: true, durationMs, outputs, loads: [...loads] }));
  }

  /**
   * Gives the job's user what it writes: its folder (made for it already), the checkpoint folder
   * with what was restored into it, and each output folder with the folders above it. Inputs stay
   * the executor's, read-only.
   */
  private async handOver(
    folder: string,
    checkpointDir: string,
    work: WorkAssignment,
    owner: { uid: number; gid: number },
  ): Promise<void> {
    await chownTree(checkpointDir, owner);
    for (const output of work.outputs) {
      const dir = path.resolve(folder, output.path);
      await chownTree(dir, owner);
      for (let up = path.dirname(dir); up.startsWith(folder + path.sep); up = path.dirname(up)) {
        await chown(up, owner.uid, owner.gid);
      }
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
        await this.options.folders.remove(dir);
        return;
      }
      const kept = await this.options.folders.keepFailed(dir, jobId, attempt);
      this.options.logger.info(
        { jobId, attempt, folder: kept, minutes: this.options.keepFailedMinutes },
        'kept the failed job’s folder for debugging',
      );
    } catch (error) {
      this.options.logger.warn(
        { jobId, err: describeError(error) },
        'could not tidy a job’s folder',
      );
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
      await this.options.staging.stageVersion(
        work.project,
        checkpoint.fileset,
        checkpoint.version,
        folder,
        {
          writable: true,
        },
      );
      say(
        `acai: resuming from checkpoint ${name}${checkpoint.step === null ? '' : ` (step ${checkpoint.step})`}`,
      );
      this.options.logger.info({ jobId: work.jobId, checkpoint: name }, 'resuming from checkpoint');
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

  /**
   * A job's environment, built from nothing: a fixed PATH, HOME (its folder) and LANG, its step's
   * `env`, and the documented `ACAI_*` variables. Nothing of the executor's own environment
   * (database and NATS URLs, keys, cloud credentials) reaches it.
   */
  private environment(
    work: WorkAssignment,
    attempt: number,
    folder: string,
    slot: Slot,
  ): NodeJS.ProcessEnv {
    return {
      PATH: this.options.jobPath,
      HOME: folder,
      LANG: 'C.UTF-8',
      ...(slot.user === null ? {} : { USER: slot.user.name, LOGNAME: slot.user.name }),
      ...work.env,
      ACAI_PROJECT: work.project,
      ACAI_RUN_ID: work.runId,
      ACAI_JOB_ID: work.jobId,
      ACAI_JOB_NAME: work.name,
      ACAI_ATTEMPT: String(attempt),
      ACAI_WORK_DIR: folder,
      ACAI_CHECKPOINT_DIR: path.resolve(folder, CHECKPOINT_FOLDER),
      ACAI_CPUS: String(work.resources.cpu),
      ...Object.fromEntries(
        work.inputs.map((i) => [folderVariable('INPUT', i.fileset), path.resolve(folder, i.path)]),
      ),
      ...Object.fromEntries(
        work.outputs.map((o) => [
          folderVariable('OUTPUT', o.fileset),
          path.resolve(folder, o.path),
        ]),
      ),
      ACAI_MEMORY_MB: String(work.resources.memoryMb),
    };
  }
}

/** Gives `dir` and everything under it to `owner`; symbolic links are changed, never followed. */
async function chownTree(dir: string, owner: { uid: number; gid: number }): Promise<void> {
  await lchown(dir, owner.uid, owner.gid);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const child = path.join(dir, entry.name);
    if (entry.isDirectory()) await chownTree(child, owner);
    else await lchown(child, owner.uid, owner.gid);
  }
}
