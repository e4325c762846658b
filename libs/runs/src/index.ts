export { planRun } from './pipeline.js';
export {
  dispatchedState,
  endedAs,
  failedBeforeAnyAttempt,
  jobDecider,
  type JobState,
  retryDelayMs,
  retryDueInMs,
} from './job.decider.js';
export { jobsToStop, type JobToStop, readyJobs, runDecider, type RunState } from './run.decider.js';
export {
  type JobHistoryDoc,
  jobHistoryProjection,
  jobsProjection,
  runsProjection,
} from './history.projection.js';
export {
  type AttemptFacts,
  type AttemptOutcome,
  outcomeOf,
  type ProcessExit,
} from './attempt-outcome.js';
export {
  type ActiveAttempt,
  activeAttemptEvents,
  activeAttemptsProjection,
} from './active-attempts.projection.js';
export { executorLost, type LostAttempt, lostAttempts, type Watch } from './lost-attempts.js';
export {
  type DispatchQueueEntry,
  dispatchQueueEvents,
  dispatchQueueProjection,
  type DispatchState,
} from './dispatch-queue.projection.js';
export {
  chooseReleases,
  type DispatchSnapshot,
  type OutCount,
  type WaitingJob,
} from './dispatch-choice.js';
