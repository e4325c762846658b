import { PROFILE, RUN } from '@acai/contracts';
import { aggregateRepository } from '@acai/eventing';
import { profileDecider } from '@acai/provisioning';
import { runDecider } from '@acai/runs';

/** Job profiles of a project, by signature: whether each is profiled, and who waits for it. */
export class ProfileRepository extends aggregateRepository(PROFILE, profileDecider) {}

/**
 * Runs, as the provisioner reads them (never writes): a run that ends may be a profile's
 * profiling run (its `origin` says so).
 */
export class ProvisionerRuns extends aggregateRepository(RUN, runDecider) {}
