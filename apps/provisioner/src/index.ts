import { JOB } from '@acai/contracts';
import type { ServiceDefinition } from '@acai/platform';
import { jobDecider } from '@acai/runs';
import { ProvisionerJobs } from './allocation/allocation.handler.js';
import { provisionerConfig } from './config.js';
import { ProvisionerModule } from './provisioner.module.js';

export const provisionerService: ServiceDefinition<typeof provisionerConfig> = {
  name: 'provisioner',
  config: provisionerConfig,
  port: { variable: 'ACAI_HTTP_PORT' },
  module: ProvisionerModule,
  providers: (ctx) => [
    { provide: ProvisionerJobs, useValue: new ProvisionerJobs(ctx.store, JOB, jobDecider) },
  ],
  observers: (get) => [{ aggregate: JOB, observe: (e) => get(ProvisionerJobs).observe(e) }],
};
