export {
  type Bus,
  connectBus,
  DEFAULT_LOG_RETENTION,
  deleteStreams,
  ensureLogStream,
  ensureStreams,
  type LogRetention,
  logStreamConfig,
} from './bus.js';
export { decodeEvent, decodeJson, encodeJson } from './codec.js';
export { describeError, HandleLater, isMissing } from './errors.js';
export { currentTrace, inSpan, SpanKind, type TraceContext, withTrace } from './tracing.js';
export { type EventLog, EventStore } from './event-store.js';
export { aggregateRepository, AggregateRepository } from './aggregates.js';
export {
  appliedWithin,
  ProjectionControl,
  ProjectionRunner,
  type ReplayResult,
  type SqlProjection,
  type CommittedBatch,
} from './projection-runner.js';
export { queryPrepared } from './prepared.js';
export { promoteBuiltTables, resetBuiltTables, type TablePair } from './sql-replica.js';
export {
  type ClaimedLetter,
  type DeadLetter,
  type DeadLetterSink,
  PostgresDeadLetters,
  type RedriveOutcome,
  type Redriver,
} from './dead-letters.js';
export {
  BusDeadLetterAdmin,
  DeadLetterAdmin,
  type DeadLetterListQuery,
  type GatheredPage,
  type GatheredRedrive,
  serveDeadLetters,
} from './dead-letter-control.js';
export { classifyFailure, type FailureKind, type TransientKind } from './failures.js';
export { type ConsumerMonitor, silentMonitor } from './monitor.js';
export { eventingEntities, ProjectionDocumentEntity } from './storage.entities.js';
export {
  eventingMigrations,
  EventingRedrives1796600000000,
  EventingReplays1796500000000,
  EventingTables1764115200000,
  schemaOf,
} from './storage.migration.js';
export { CommandClient } from './commands.js';
export { JetStreamTransport, OnCommand, OnEvent } from './transport.js';
export { WorkConsumer, type WorkLease } from './work-queue.js';
export {
  BusJobControl,
  BusNodeHeartbeats,
  BusWorkQueue,
  CommandSender,
  JobControl,
  NodeHeartbeats,
  WorkQueue,
} from './ports.js';
export { PatientCommands, untilAvailable } from './patient-commands.js';
export { type EventingLogger, LOGGER, silentLogger } from './logger.js';
