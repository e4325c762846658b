import type { ServiceDefinition } from '@acai/platform';
import { executorConfig } from './config.js';
import { ExecutorModule } from './executor.module.js';
import { JobRunner } from './jobs/job-runner.js';

export const executorService: ServiceDefinition<typeof executorConfig> = {
  name: 'executor',
  config: executorConfig,
  port: { variable: 'ACAI_HTTP_PORT' },
  module: ExecutorModule,
  providers: (ctx) => [{ provide: JobRunner, useValue: new JobRunner(ctx) }],
  onStarted: async (app) => {
    await app.get(JobRunner).start();
  },
  onClosing: async (app, ctx) => {
    await app.get(JobRunner).stop(ctx.config.ACAI_SHUTDOWN_GRACE_MS);
  },
};

export { JobRunner };
