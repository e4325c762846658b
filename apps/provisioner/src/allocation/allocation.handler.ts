import { Controller } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import type { StoredEventOf } from '@acai/contracts';
import { AggregateRepository } from '@acai/eventing';
import { ServiceContext } from '@acai/platform';
import { jobDecider, type JobState } from '@acai/runs';
import type { provisionerConfig } from '../config.js';
import type { ConfigOf, CommonConfig } from '@acai/platform';
import { placeLocally } from './local-provider.js';

export class ProvisionerJobs extends AggregateRepository<JobState> {}

/** Gives every queued job a place to run and records why. */
@Controller()
export class AllocationHandler {
  constructor(
    private readonly ctx: ServiceContext<CommonConfig & ConfigOf<typeof provisionerConfig>>,
    private readonly jobs: ProvisionerJobs,
  ) {}

  @EventPattern('job.queued')
  async onQueued(@Payload() event: StoredEventOf<'job.queued'>): Promise<void> {
    const placement = placeLocally(event.data.resources, {
      cpu: this.ctx.config.ACAI_LOCAL_CPUS,
      memoryMb: this.ctx.config.ACAI_LOCAL_MEMORY_MB,
    });
    await this.jobs.execute(
      event.project,
      event.aggregateId,
      (state) => jobDecider.decide({ kind: 'provision', data: placement }, state),
      { correlationId: event.correlationId, causationId: event.id },
    );
  }
}
