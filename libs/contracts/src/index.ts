export {
  AcaiError,
  assertUnreachable,
  declaredProblems,
  type ErrorBody,
  ErrorCode,
  type ErrorDetail,
  isProblem,
  type Problem,
  type ProblemExtensions,
  problemType,
} from './errors.js';
export {
  AuthProblems,
  BlobProblems,
  CommonProblems,
  FilesetProblems,
  OperationsProblems,
  ProvisioningProblems,
  RunProblems,
  SecretProblems,
} from './problems/index.js';
export { parseOrThrow } from './validation.js';
export {
  assertToken,
  defaultTopology,
  isolatedTopology,
  logStreamName,
  subjects,
  type Topology,
} from './subjects.js';
export {
  BUS_OPERATOR,
  BUS_ROLES,
  BUS_SERVICES,
  busPermissions,
  busPermissionsTable,
  CONTROLS_EVERY_SERVICE_HEARS,
  type BusPermissions,
  type BusRole,
  type BusService,
} from './bus-permissions.js';
export { EventEnvelopeSchema } from './events/envelope.js';
export {
  type BestTrial,
  type JobOutcome,
  type PlannedJob,
  type PlannedSweep,
  RUN,
  type RunLimits,
  type RunOrigin,
} from './events/run.events.js';
export {
  type EarlyStopped,
  type EarlyStoppingRule,
  EarlyStoppingRuleSchema,
  type Objective,
  ObjectiveSchema,
  type Trial,
} from './events/trial.js';
export {
  type CandidateView,
  type CheckpointRef,
  type DeclaredOutput,
  JOB,
  type JobFailureReason,
  type MetricPoint,
  type Network,
  type OfferRef,
  type ProvisionDecision,
  type ProvisionSpec,
  type Resources,
  type RetryPolicy,
  type StagedInput,
  type StepShare,
  type RescaleConfiguration,
  RescaleConfigurationSchema,
  type RescaleMeasurements,
  RescaleMeasurementsSchema,
} from './events/job.events.js';
export { type Creator, FILESET, type ManifestRef, type Metadata } from './events/fileset.events.js';
export { PROFILE } from './events/profile.events.js';
export {
  assertWriter,
  type DomainEvent,
  eventCatalogue,
  type EventData,
  type EventType,
  findEventDefinition,
  type NewEvent,
} from './events/catalogue.js';
export {
  DEFAULT_RESOURCES,
  DEFAULT_RETRY_ON,
  type EarlyStoppingSpec,
  MAX_RETRY_DELAY_SECONDS,
  MAX_TRIALS,
  type SweepSpec,
  type RetrySpec,
  type RunSpec,
  runSpecJsonSchema,
  RunSpecSchema,
  type StepSpec,
  StepSpecSchema,
  withStepNames,
} from './api/run-spec.js';
export {
  BudgetSchema,
  deadlineAt,
  DeadlineSpecSchema,
  type DeadlineSpec,
  MAX_DEADLINE_SECONDS,
  type ParsedDeadline,
  parseDeadline,
} from './api/deadline.js';
export { narrowByShare, type ShareableLimits } from './api/step-share.js';
export {
  type PlanAlternative,
  type RunPlanView,
  RunPlanViewSchema,
  type StepPlan,
  type StepToEstimate,
  StepToEstimateSchema,
} from './api/run-plan.js';
export {
  type HistoryEntry,
  type JobProgress,
  JobProgressSchema,
  type JobStatus,
  type JobView,
  type LogChunk,
  LogChunkSchema,
  type MetricSeries,
  type Page,
  type ProjectionView,
  ProjectionViewSchema,
  type ReplayStatus,
  ReplayStatusSchema,
  type RunStatus,
  type RunSweepSummary,
  type RunTrialsView,
  RunTrialsViewSchema,
  type RunView,
  type SweepView,
  TERMINAL_JOB_STATUSES,
  type TrialView,
} from './api/views.js';
export {
  FilePathSchema,
  FilesetNameSchema,
  LABEL,
  MEDIA_TYPE,
  pathProblem,
  Sha256Schema,
} from './api/names.js';
export {
  type FileEntry,
  type FilesetHit,
  type FilesetView,
  type SetQuotaRequest,
  SetQuotaRequestSchema,
  type StorageView,
  StorageViewSchema,
  type VersionHit,
  type VersionView,
} from './api/catalog.views.js';
export { type NodeView } from './api/provisioning.views.js';
export {
  type CreatedKey,
  CreatedKeySchema,
  type CreateKeyRequest,
  CreateKeyRequestSchema,
  type KeyRevokedControl,
  KeyRevokedControlSchema,
  type KeyScope,
  KeyScopeSchema,
  type KeyView,
  KeyViewSchema,
} from './api/keys.js';
export {
  type DeadLetterCursor,
  DeadLetterCursorSchema,
  DeadLetterFilterSchema,
  type DeadLetterList,
  DeadLetterListSchema,
  type DeadLetterPageReply,
  DeadLetterPageReplySchema,
  DeadLetterServiceSchema,
  type DeadLetterView,
  DeadLetterViewSchema,
  type ListDeadLettersControl,
  ListDeadLettersControlSchema,
  type RedriveDeadLettersControl,
  RedriveDeadLettersControlSchema,
  type RedriveReply,
  RedriveReplySchema,
  type RedriveResult,
  RedriveResultSchema,
} from './api/dead-letters.js';
export {
  type PutSecretRequest,
  PutSecretRequestSchema,
  SecretNameSchema,
  type SecretView,
  SecretViewSchema,
} from './api/secrets.js';
export {
  type CancelJobControl,
  CancelJobControlSchema,
  type RescaleJobControl,
  RescaleJobControlSchema,
  commandByPattern,
  type CommandName,
  type CommandPayload,
  type CommandReply,
  type CommandRequest,
  type CommandResult,
  Commands,
  CommitRequestSchema,
  Controls,
  CreateFilesetRequestSchema,
  LabelsChangeSchema,
  MetadataChangeSchema,
  type NodeHeartbeat,
  NodeHeartbeatSchema,
} from './commands.js';
export { type Projection, type StoredEvent, type StoredEventOf } from './projection.js';
export { type Decider, fold } from './decider.js';
export { DEFAULT_JOB_PATH, type WorkAssignment, WorkAssignmentSchema } from './api/work.js';
