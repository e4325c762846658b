import { Metadata, status, type StatusObject } from '@grpc/grpc-js';
import { AcaiError, assertUnreachable, ErrorCode } from '@acai/contracts';

/** A refused gRPC call: its status code, a message for the user, and trailers with the facts. */
export type GrpcError = Pick<StatusObject, 'code' | 'details' | 'metadata'>;

/**
 * The gRPC status of each error category: the same decision the REST edge makes with HTTP
 * statuses (validation 400 → INVALID_ARGUMENT, 404 → NOT_FOUND, 409 → FAILED_PRECONDITION or, for
 * something that exists already, ALREADY_EXISTS, 429 and quotas → RESOURCE_EXHAUSTED, …).
 */
export function grpcCodeOf(code: ErrorCode, reason: string): status {
  switch (code) {
    case ErrorCode.ValidationFailed:
    case ErrorCode.UnsupportedMediaType:
      return status.INVALID_ARGUMENT;
    case ErrorCode.NotFound:
      return status.NOT_FOUND;
    case ErrorCode.Conflict:
      return /_EXISTS$/.test(reason) ? status.ALREADY_EXISTS : status.FAILED_PRECONDITION;
    case ErrorCode.Unauthenticated:
      return status.UNAUTHENTICATED;
    case ErrorCode.Forbidden:
      return status.PERMISSION_DENIED;
    case ErrorCode.PayloadTooLarge:
    case ErrorCode.RateLimited:
    case ErrorCode.InsufficientStorage:
      return status.RESOURCE_EXHAUSTED;
    case ErrorCode.RangeNotSatisfiable:
      return status.OUT_OF_RANGE;
    case ErrorCode.Unprocessable:
      return status.FAILED_PRECONDITION;
    case ErrorCode.Unavailable:
      return status.UNAVAILABLE;
    case ErrorCode.Internal:
      return status.INTERNAL;
    default:
      return assertUnreachable(code, 'error code');
  }
}

/**
 * An error as a gRPC status. An {@link AcaiError} keeps its message (which names the field for a
 * validation error) and its facts as trailers: `acai-reason`, `acai-retryable`, `acai-details`
 * (JSON: `[{path, message}]`), `acai-extensions` (JSON) and `retry-after` (seconds) when given.
 * Anything else is INTERNAL with a message that gives nothing of it away (it is logged).
 */
export function grpcErrorOf(error: unknown, retryAfterSeconds?: number): GrpcError {
  const metadata = new Metadata();
  if (!(error instanceof AcaiError)) {
    return {
      code: status.INTERNAL,
      details: 'Internal error: the gateway logged it; try again, and report it if it persists',
      metadata,
    };
  }
  metadata.set('acai-reason', error.reason);
  metadata.set('acai-retryable', String(error.retryable));
  if (error.details !== undefined && error.details.length > 0) {
    metadata.set('acai-details', JSON.stringify(error.details));
  }
  if (error.extensions !== undefined) {
    metadata.set('acai-extensions', JSON.stringify(error.extensions));
  }
  if (retryAfterSeconds !== undefined) metadata.set('retry-after', String(retryAfterSeconds));
  return { code: grpcCodeOf(error.code, error.reason), details: error.message, metadata };
}
