import { AggregateRepository } from '@acai/eventing';
import { JOB, RUN } from '@acai/contracts';
import { jobDecider, runDecider, type JobState, type RunState } from '@acai/runs';
import type { ServiceContext } from '@acai/platform';

/** The run aggregates, cached and kept current by the run consumer. */
export class RunRepository extends AggregateRepository<RunState> {
  constructor(ctx: ServiceContext) {
    super(ctx.store, RUN, runDecider);
  }
}

/** The job aggregates, cached and kept current by the job consumer. */
export class JobRepository extends AggregateRepository<JobState> {
  constructor(ctx: ServiceContext) {
    super(ctx.store, JOB, jobDecider);
  }
}
