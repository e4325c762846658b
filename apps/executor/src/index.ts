import { createHash } from 'node:crypto';
import { chmod, stat } from 'node:fs/promises';
import path from 'node:path';
import { context } from '@opentelemetry/api';
import { blobStoreFromUrl, parseBlobStoreUrl } from '@acai/blobstore';
import { Controls, JOB, subjects } from '@acai/contracts';
import {
  BusJobControl,
  BusNodeHeartbeats,
  encodeJson,
  PatientCommands,
  WorkConsumer,
} from '@acai/eventing';
import { JobAttempts, LogPublisher, sharedEnsure } from '@acai/execution';
import type { ServiceDefinition } from '@acai/platform';
import { AttemptSightings, jobDecider } from '@acai/runs';
import { AggregateRepository } from '@acai/eventing';
import { executorConfig } from './config.js';
import { ExecutorModule } from './executor.module.js';
import { JobRunner } from './jobs/job-runner.js';
import { Limits } from './jobs/limits.js';
import { Sandbox, SandboxError, type SandboxMode } from './jobs/sandbox.js';
import { Spawner } from './jobs/spawner/spawner.js';
import { Staging } from './jobs/staging.js';
import { WorkFolders } from './jobs/work-folders.js';
import { ExecutorNode } from './node/executor-node.js';

export const executorService: ServiceDefinition<typeof executorConfig> = {
  name: 'executor',
  config: executorConfig,
  port: { variable: 'ACAI_HTTP_PORT' },
  module: ExecutorModule,
  // The composition root: the bus and the database stop here; the runner and the node get ports.
  providers: async (ctx) => {
    const config = ctx.config;
    const name = config.ACAI_EXECUTOR_ID.replace(/[^A-Za-z0-9_-]/g, '-');
    const sandbox = await Sandbox.open({
      requested: config.ACAI_SANDBOX,
      slots: config.ACAI_EXECUTOR_SLOTS,
      slotName: (i) => `${name}-slot-${i}`,
      uidBase: config.ACAI_SANDBOX_UID_BASE,
      claimsDir: SLOT_CLAIMS,
    });
    const slots = sandbox.slots;
    const blobStore = config.ACAI_BLOB_STORE ?? path.resolve(config.ACAI_HOME, 'blobs');
    if (sandbox.mode === 'uid') {
      // Keys, the event store, the database and blobs live here: the job users must not enter.
      const local = parseBlobStoreUrl(blobStore);
      for (const dir of [config.ACAI_HOME, ...(local.kind === 'local' ? [local.root] : [])]) {
        if (await closeToOthers(dir))
          ctx.logger.warn({ dir }, 'made a folder jobs could read readable by its owner only');
      }
    }
    const workDir = config.ACAI_WORK_DIR ?? defaultWorkDir(config.ACAI_HOME, sandbox.mode);
    if (sandbox.mode === 'uid') checkWorkDir(workDir, config.ACAI_HOME);
    const folders = new WorkFolders(workDir, config.ACAI_KEEP_FAILED_WORK_MINUTES * 60_000, {
      forOtherUsers: sandbox.mode === 'uid',
    });
    const limits = await Limits.detect();
    // Jobs are forked by a small process of the executor's, started now, not by the executor.
    const spawner = new Spawner({ wrapper: sandbox.diesWithExecutor(), logger: ctx.logger });
    spawner.open();
    // A project's logs stream is the gateway's to make; asked for when a job's output finds none.
    const ensureLogStream = sharedEnsure((project) =>
      ctx.commands.send('ensureLogStream', { project }),
    );
    // Staging, saving outputs and a job's secrets wait out the catalog or the gateway restarting
    // rather than failing the job.
    const patient = new PatientCommands(ctx.commands, ctx.logger);
    // Whether a job's attempt on another executor is alive, from the heartbeats every node sends:
    // an executor silent for three heartbeats is gone, and one not heard in the first heartbeat
    // (and a second) of listening too.
    const sightings = new AttemptSightings();
    const heard = {
      windowMs: 3 * config.ACAI_NODE_HEARTBEAT_MS,
      listenMs: config.ACAI_NODE_HEARTBEAT_MS + 1000,
    };
    const runner = new JobRunner({
      executor: config.ACAI_EXECUTOR_ID,
      pool: config.ACAI_EXECUTOR_POOL,
      slots,
      sandbox,
      spawner,
      jobPath: config.ACAI_JOB_PATH,
      secrets: async (project, names) =>
        (await patient.send('resolveSecrets', { project, names })).values,
      keepFailedMinutes: config.ACAI_KEEP_FAILED_WORK_MINUTES,
      attempts: new JobAttempts(new AggregateRepository(ctx.store, JOB, jobDecider), ctx.logger),
      staging: new Staging(patient, blobStoreFromUrl(blobStore)),
      folders,
      limits,
      logs: (work, attempt) =>
        new LogPublisher(ctx.bus, work.project, work.jobId, attempt, {
          maxBytes: ctx.config.ACAI_MAX_LOG_BYTES,
          ensureStream: ensureLogStream,
        }),
      logger: ctx.logger,
      sightings,
      heard,
    });
    const heartbeats = subjects.control(ctx.bus.topology, Controls.nodeHeartbeat);
    const node = new ExecutorNode({
      runner,
      consumer: new WorkConsumer(ctx.bus, {
        pool: config.ACAI_EXECUTOR_POOL,
        slots: config.ACAI_EXECUTOR_SLOTS,
        ackWaitMs: config.ACAI_WORK_ACK_WAIT_MS,
        logger: ctx.logger,
        handle: (lease) => context.with(lease.trace, () => runner.run(lease)),
      }),
      control: new BusJobControl(ctx.bus, ctx.logger),
      folders,
      limits,
      sandbox,
      heartbeat: (beat) => ctx.bus.nc.publish(heartbeats, encodeJson(beat)),
      heartbeatMs: config.ACAI_NODE_HEARTBEAT_MS,
      reconcileMs: config.ACAI_JOB_RECHECK_MS,
      hearing: {
        heartbeats: new BusNodeHeartbeats(ctx.bus, ctx.logger),
        sightings,
        keepMs: heard.windowMs,
      },
      onReconnect: (listener) => {
        let stopped = false;
        void (async () => {
          for await (const status of ctx.bus.nc.status()) {
            if (stopped) return;
            if (status.type === 'reconnect') listener();
          }
        })();
        return {
          stop: () => {
            stopped = true;
          },
        };
      },
      identity: {
        id: config.ACAI_EXECUTOR_ID,
        pool: config.ACAI_EXECUTOR_POOL,
        provider: config.ACAI_NODE_PROVIDER,
        instanceType: config.ACAI_NODE_INSTANCE_TYPE ?? null,
        slots: config.ACAI_EXECUTOR_SLOTS,
      },
      logger: ctx.logger,
    });
    return [
      { provide: ExecutorNode, useValue: node },
      { provide: Spawner, useValue: spawner },
    ];
  },
  onStarted: async (app) => {
    await app.get(ExecutorNode).start();
  },
  onClosing: async (app, ctx) => {
    await app.get(ExecutorNode).stop(ctx.config.ACAI_SHUTDOWN_GRACE_MS);
    // Its jobs have ended or been handed back.
    await app.get(Spawner).close();
  },
};

/** Host-wide claims of job slot numbers (one user per slot), shared by the executors on a host. */
const SLOT_CLAIMS = '/run/acai/slots';

/**
 * Sandboxed jobs' folders live outside $ACAI_HOME (which jobs cannot enter) and outside /tmp (each
 * job has a private one): under /var/lib/acai-work, one root per home so that executors of
 * different homes on one host never sweep each other's folders. Unsandboxed, under $ACAI_HOME.
 */
function defaultWorkDir(home: string, mode: SandboxMode): string {
  if (mode === 'none') return path.resolve(home, 'work');
  const tag = createHash('sha256').update(path.resolve(home)).digest('hex').slice(0, 12);
  return path.join('/var/lib/acai-work', tag);
}

/** Refuses a sandboxed work folder inside $ACAI_HOME: the jobs could not reach it. */
function checkWorkDir(workDir: string, home: string): void {
  const relative = path.relative(path.resolve(home), path.resolve(workDir));
  if (relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative))) {
    throw new SandboxError(
      `ACAI_WORK_DIR (${workDir}) is inside ACAI_HOME (${home}), which sandboxed jobs cannot enter: put it outside, e.g. /var/lib/acai-work`,
    );
  }
}

/**
 * Takes the permissions of others off `dir` (when it exists and is this user's); answers whether it
 * had any. Then nothing under it can be reached by a job's user, whatever its own mode (a job's
 * user is in no group but its own, so the folder's group, e.g. postgres, keeps its access).
 */
async function closeToOthers(dir: string): Promise<boolean> {
  const info = await stat(dir).catch(() => undefined);
  if (info === undefined || info.uid !== process.getuid?.() || (info.mode & 0o007) === 0)
    return false;
  await chmod(dir, info.mode & 0o770);
  return true;
}

export { ExecutorNode };
