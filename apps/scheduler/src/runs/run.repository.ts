import { RUN } from '@acai/contracts';
import { aggregateRepository } from '@acai/eventing';
import { runDecider } from '@acai/runs';

/** The run aggregates, cached and kept current by the scheduler's run consumer. */
export class RunRepository extends aggregateRepository(RUN, runDecider) {}
