/** The EC2 provider: what the rest of the provisioner may use. See README.md. */
export { Ec2Fleet } from './ec2-fleet.js';
export {
  ec2PoolName,
  MANAGED_TAG,
  POOL_TAG,
  type Ec2FleetConfig,
  type Ec2FleetLogger,
  type Ec2FleetOptions,
} from './fleet-config.js';
export type { Capacity, CapacityRequest } from './capacity.js';
export type { NodeState, NodeView } from './node-book.js';
export { fleetNodeView } from './node-view.js';
export type { SyncResult } from './reaping.js';
export {
  classifyEc2Error,
  DEFAULT_RETRY_POLICY,
  Ec2CapacityError,
  Ec2ProviderError,
  Ec2RequestError,
  Ec2ThrottledError,
  type Ec2ErrorKind,
  type Ec2Problem,
  type Ec2Reason,
  type LaunchAttempt,
  type RetryPolicy,
} from './ec2-errors.js';
export {
  SdkEc2Repository,
  type Ec2Instance,
  type Ec2InstanceState,
  type Ec2Repository,
  type InstanceFilter,
  type InstancePage,
  type LaunchSpec,
} from './ec2.repository.js';
export { DEFAULT_EXECUTOR_COMMAND, EXECUTOR_ENV_FILE } from './user-data.js';
