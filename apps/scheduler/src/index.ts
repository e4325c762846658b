import type { ServiceDefinition } from '@acai/platform';
import { schedulerConfig } from './config.js';
import { JobRepository } from './runs/job.repository.js';
import { RunRepository } from './runs/run.repository.js';
import { SchedulerModule } from './scheduler.module.js';

export const schedulerService: ServiceDefinition<typeof schedulerConfig> = {
  name: 'scheduler',
  config: schedulerConfig,
  port: { variable: 'ACAI_HTTP_PORT' },
  module: SchedulerModule,
  providers: (ctx) => [
    { provide: RunRepository, useValue: new RunRepository(ctx.store) },
    { provide: JobRepository, useValue: new JobRepository(ctx.store) },
  ],
  observers: (get) => [
    { aggregate: 'run', observe: (e) => get(RunRepository).observe(e) },
    { aggregate: 'job', observe: (e) => get(JobRepository).observe(e) },
  ],
};
