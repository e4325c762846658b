export {
  AcaiClient,
  type AcaiClientOptions,
  BlobSchema,
  type CommitInput,
  CreatedProjectSchema,
  type EndpointName,
  Endpoints,
  type HttpMethod,
  type Query,
  type RunSpecInput,
} from './client.js';
export {
  AcaiApiError,
  AcaiConnectionError,
  AcaiProtocolError,
  type ProblemDocument,
  ProblemDocumentSchema,
} from './errors.js';
export {
  type EventFilter,
  followEvents,
  type FollowEventsOptions,
  type StreamedEvent,
} from './events.js';
export { DEFAULT_RETRY, parseRetryAfter, retryDelayMs, type RetryPolicy } from './retry.js';
export { readSse, type SseMessage, SseParser } from './sse.js';
export {
  downloadFile,
  type LocalFile,
  localFiles,
  type OnBytes,
  pullFiles,
  pushFiles,
  type PushOptions,
  type PushResult,
  uploadFile,
} from './transfer.js';
