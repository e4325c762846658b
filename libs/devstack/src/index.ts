/** The launcher behind `npm run up`, `npm test` and the benchmarks: what they may use. */
export {
  MissingDependencyError,
  deploymentNatsUsers,
  natsAuthConfig,
  startNats,
  which,
  type NatsUser,
  type StartedService,
} from './nats.js';
export { ensureDatabase, startEmbeddedPostgres } from './postgres.js';
export { createServiceRoles, passwordVariable, rolesRequest } from './db-roles.js';
export { freePort, waitForPort } from './ports.js';
export {
  readServices,
  runsJobsAsDeveloper,
  startStack,
  type ServiceEntry,
  type Stack,
  type StackOptions,
  type StackService,
} from './stack.js';
export { ServiceStartError, type ServiceMessage } from './supervisor.js';
export { codeForJobs, jobPath, reachableByOthers } from './job-access.js';
export { whereThingsAre, type WhereThingsAre } from './where.js';
