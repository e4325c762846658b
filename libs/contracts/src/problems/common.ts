import { defineProblems, ErrorCode } from '../errors.js';

/** Problems any service or edge may raise, whatever the feature. */
export const CommonProblems = defineProblems('common', {
  INVALID_REQUEST: {
    code: ErrorCode.ValidationFailed,
    title: 'The request is invalid; `details` names each bad field',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    code: ErrorCode.UnsupportedMediaType,
    title: 'The body is not in a type this route accepts',
  },
  PAYLOAD_TOO_LARGE: {
    code: ErrorCode.PayloadTooLarge,
    title: 'The body is larger than this server accepts',
  },
  MESSAGE_TOO_LARGE: {
    code: ErrorCode.PayloadTooLarge,
    title: 'What the request asks for would not fit in one message of the bus',
  },
  NO_SUCH_ROUTE: { code: ErrorCode.NotFound, title: 'No such endpoint' },
  REQUEST_INTERRUPTED: {
    code: ErrorCode.ValidationFailed,
    retryable: true,
    title: 'The request was interrupted before it was complete',
  },
  SERVICE_UNAVAILABLE: {
    code: ErrorCode.Unavailable,
    retryable: true,
    title: 'A service the request needs is not running',
  },
  SERVICE_TIMEOUT: {
    code: ErrorCode.Unavailable,
    retryable: true,
    title: 'A service the request needs did not answer in time',
  },
  DEPENDENCY_UNAVAILABLE: {
    code: ErrorCode.Unavailable,
    retryable: true,
    title:
      'The service could not reach something it depends on (its database, the bus, the blob store); try again shortly',
  },
  CONCURRENT_CHANGE: {
    code: ErrorCode.Conflict,
    retryable: true,
    title: 'Someone else changed the same thing first',
  },
  INTERNAL: {
    code: ErrorCode.Internal,
    // Unexpected, so possibly passing (a connection dropped mid-request): worth one more try.
    retryable: true,
    title: 'Something went wrong on our side',
  },
});
