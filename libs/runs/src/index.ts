export { planRun } from './pipeline.js';
export {
  dispatchedState,
  endedAs,
  failedBeforeAnyAttempt,
  jobDecider,
  type JobState,
  type Pace,
  type PendingRescale,
  retryDelayMs,
  retryDueInMs,
} from './job.decider.js';
export {
  type BudgetedStep,
  isLeftOut,
  jobsToLeaveOut,
  jobsToStop,
  type JobToLeaveOut,
  type JobToStop,
  plannedOutput,
  readyJobs,
  remainingLimits,
  type RemainingLimits,
  runDecider,
  type RunState,
  sweepsToComplete,
  unbudgetedJobs,
} from './run.decider.js';
export { admitRun, limitedProvision } from './limits.js';
export { bestTrial, expandSweep, trialName, type TrialParams, type TrialResult } from './sweep.js';
export {
  earlyStop,
  type ReportWindow,
  type Series,
  type StopDecision,
  withPoints,
} from './early-stopping.js';
export {
  type JobHistoryDoc,
  jobHistoryProjection,
  jobsProjection,
  jobStatusAfter,
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
export {
  AttemptSightings,
  executorLost,
  type LostAttempt,
  lostAttempts,
  type Watch,
} from './lost-attempts.js';
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
export { type RunTrialsDoc, trialsProjection } from './trials.projection.js';
export {
  estimateProgress,
  PROGRESS_METRIC,
  type ProgressPoint,
  STEPS_TOTAL_METRIC,
} from './progress.js';
export {
  MAX_RESCALES,
  MIN_RESTART_SECONDS,
  RESCALE_GRACE_SECONDS,
  RESCALE_TOLERANCE,
  onJobClock,
  planAgain,
  rescaleCheck,
  secondsToPlaceAgain,
  type RescaleCheck,
  type Stayed,
} from './rescale.js';
export {
  compareSignatures,
  parametersOf,
  RESOURCE_SIZING_ENV,
  type SignatureDifference,
  type SignatureInput,
  signJob,
  whyNotReusable,
} from './signature.js';
export {
  type Artifact,
  DEFAULT_ALPHA,
  type MaterializationPlan,
  planLeastRecentlyUsed,
  planMaterialization,
  planStrictLeastRecentlyUsed,
  relativeQualities,
  type ModelQuality,
  type ScoredArtifact,
  scoreArtifacts,
} from './materialize.js';
export {
  runTimelines,
  TIMELINE_ALTERNATIVES,
  TIMELINE_EXCLUDED,
  timelineData,
  timelineEntry,
  type TimelineEntry,
  type TimelineJob,
  timelineJobId,
  timelineJobs,
  timelineSummary,
} from './timeline.js';
export {
  lookupLevels,
  mayLookUp,
  type PlannedReuse,
  planReuse,
  type ReuseFinding,
  type ReusePlan,
  type ReusePlanKind,
  type ReusePlanStep,
} from './reuse-plan.js';
export { lookUpSteps, type StepLookupSource } from './reuse-lookups.js';
