import { JOB } from '@acai/contracts';
import { aggregateRepository } from '@acai/eventing';
import { jobDecider } from '@acai/runs';

/** The job aggregates, cached and kept current by the scheduler's job consumer. */
export class JobRepository extends aggregateRepository(JOB, jobDecider) {}
