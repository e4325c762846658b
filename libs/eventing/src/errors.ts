import { JetStreamApiError } from '@nats-io/jetstream';
import { AcaiError, ErrorCode } from '@acai/contracts';

/** Two writers raced for one aggregate and this one lost: reload and decide again. */
export class WrongExpectedVersionError extends AcaiError {
  constructor(
    readonly subject: string,
    readonly expectedVersion: number,
    cause?: unknown,
  ) {
    super(
      ErrorCode.Conflict,
      `Someone else changed ${subject} since version ${expectedVersion}; reload it and try again`,
      undefined,
      { cause },
    );
  }
}

/**
 * Marks a failure that will never succeed on a retry (a bug, a message that cannot be decoded).
 * Consumers dead-letter such messages at once instead of redelivering them.
 */
export class NonRetryableError extends Error {
  override readonly name = 'NonRetryableError';
  readonly nonRetryable = true;
  constructor(
    readonly reason: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isNonRetryable(error: unknown): boolean {
  if (error instanceof NonRetryableError) return true;
  // A refused command is not going to be accepted the next time either.
  return (
    error instanceof AcaiError &&
    (error.code === ErrorCode.ValidationFailed || error.code === ErrorCode.NotFound)
  );
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** A JetStream "not found" answer (stream or consumer), as opposed to a failure to ask. */
export function isMissing(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.status === 404;
}
