import { AcaiError, isProblem, ProvisioningProblems, type NodeView } from '@acai/contracts';
import type { Offer } from '@acai/provisioning';

/** A machine (or slot holder) that runs executors, as `GET /api/v1/nodes` shows it. */
export type { NodeView } from '@acai/contracts';

/**
 * Where jobs run. A provider turns a chosen configuration into a work pool with a node that will
 * pull from it: an executor slot on this machine, an EC2 instance it launches, a simulated node.
 */
export interface Provider {
  readonly name: 'local' | 'ec2' | 'simulated';
  /** Makes sure a node of this configuration will take the job; answers the pool to put it on. */
  place(offer: Offer, jobId: string): Promise<{ pool: string }>;
  /** An executor started the job (on EC2, the executor id is the instance id). */
  started(jobId: string, executor: string): void;
  /** The job left its node (it ended, or was cancelled): the node may become idle. */
  released(jobId: string): void;
  /** Nodes this provider made that have not yet said hello themselves (e.g. booting instances). */
  nodes(): readonly NodeView[];
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * What `place` throws when the EC2 fleet (real or simulated) could not give the job an instance.
 * Its errors go as they are: their problem says whether the same request may succeed later
 * (`EC2_THROTTLED` is, and the event is redelivered; `EC2_REJECTED` is not, and the job fails).
 * `EC2_NO_CAPACITY` is the exception. The fleet has already tried every acceptable type, and
 * redelivering the event a few times within seconds would not outlast a capacity shortage, only
 * leave the job queued with no record once the deliveries run out; so it becomes
 * `CAPACITY_UNAVAILABLE`, which is not retryable: the job fails, its message listing each type
 * tried, why it failed, and what to do.
 */
export function placementFailure(error: unknown): unknown {
  if (isProblem(error, ProvisioningProblems.EC2_NO_CAPACITY)) {
    return new AcaiError(ProvisioningProblems.CAPACITY_UNAVAILABLE, error.message, undefined, {
      cause: error,
    });
  }
  return error;
}
