import path from 'node:path';
import { context } from '@opentelemetry/api';
import { blobStoreFromUrl } from '@acai/blobstore';
import { Controls, JOB, subjects } from '@acai/contracts';
import { BusJobControl, encodeJson, WorkConsumer } from '@acai/eventing';
import { JobAttempts, LogPublisher } from '@acai/execution';
import type { ServiceDefinition } from '@acai/platform';
import { jobDecider } from '@acai/runs';
import { AggregateRepository } from '@acai/eventing';
import { executorConfig } from './config.js';
import { ExecutorModule } from './executor.module.js';
import { JobRunner } from './jobs/job-runner.js';
import { Limits } from './jobs/limits.js';
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
    const slots = Array.from({ length: config.ACAI_EXECUTOR_SLOTS }, (_, i) => `${name}-slot-${i}`);
    const folders = new WorkFolders(
      path.resolve(config.ACAI_HOME, 'work'),
      config.ACAI_KEEP_FAILED_WORK_MINUTES * 60_000,
    );
    const limits = await Limits.detect();
    const runner = new JobRunner({
      executor: config.ACAI_EXECUTOR_ID,
      pool: config.ACAI_EXECUTOR_POOL,
      slots,
      keepFailedMinutes: config.ACAI_KEEP_FAILED_WORK_MINUTES,
      attempts: new JobAttempts(new AggregateRepository(ctx.store, JOB, jobDecider), ctx.logger),
      staging: new Staging(
        ctx.commands,
        blobStoreFromUrl(config.ACAI_BLOB_STORE ?? path.resolve(config.ACAI_HOME, 'blobs')),
      ),
      folders,
      limits,
      logs: (work, attempt) =>
        new LogPublisher(ctx.bus, work.project, work.jobId, attempt, {
          maxBytes: ctx.config.ACAI_MAX_LOG_BYTES,
        }),
      logger: ctx.logger,
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
      slots,
      heartbeat: (beat) => ctx.bus.nc.publish(heartbeats, encodeJson(beat)),
      heartbeatMs: config.ACAI_NODE_HEARTBEAT_MS,
      identity: {
        id: config.ACAI_EXECUTOR_ID,
        pool: config.ACAI_EXECUTOR_POOL,
        provider: config.ACAI_NODE_PROVIDER,
        instanceType: config.ACAI_NODE_INSTANCE_TYPE ?? null,
        slots: config.ACAI_EXECUTOR_SLOTS,
      },
      logger: ctx.logger,
    });
    return [{ provide: ExecutorNode, useValue: node }];
  },
  onStarted: async (app) => {
    await app.get(ExecutorNode).start();
  },
  onClosing: async (app, ctx) => {
    await app.get(ExecutorNode).stop(ctx.config.ACAI_SHUTDOWN_GRACE_MS);
  },
};

export { ExecutorNode };
