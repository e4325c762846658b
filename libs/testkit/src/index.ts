export { eventually, testEnv, uniqueTag } from './env.js';
export { deciderSpec } from './decider-spec.js';
export { startS3rver } from './s3rver.js';
export { sharedWithJobs } from './shared-folder.js';
export {
  eventLog,
  type EventLogOptions,
  plannedJob,
  projectEvents,
  queuedJob,
} from './fixtures.js';
export { migratedSchema, type MigratedSchema } from './schema.js';
