/** The job-attempt protocol and output logging, shared by every executor (real and simulated). */
export {
  Attempt,
  JobAttempts,
  type AttemptEnd,
  type AttemptNode,
  type HolderCheck,
  type JobEnd,
} from './attempts.js';
export {
  DEFAULT_MAX_LOG_BYTES,
  LogPublisher,
  type LogPublisherOptions,
  sharedEnsure,
  type StreamName,
} from './log-publisher.js';
