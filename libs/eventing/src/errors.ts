import { JetStreamApiError } from '@nats-io/jetstream';
import { AcaiError, CommonProblems } from '@acai/contracts';

/** Two writers raced for one aggregate and this one lost: reload and decide again. */
export class WrongExpectedVersionError extends AcaiError {
  constructor(
    readonly subject: string,
    readonly expectedVersion: number,
    cause?: unknown,
  ) {
    super(
      CommonProblems.CONCURRENT_CHANGE,
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

/**
 * Thrown by an event handler for an event that is not due yet (a retry waiting out its backoff):
 * the consumer hands the message back to JetStream to be delivered again in `delayMs`, neither an
 * attempt nor a failure. JetStream holds the message meanwhile, so the wait survives the service's
 * restart; the handler must derive the due time from the event itself (a delivery may come early,
 * e.g. after nats-server restarts, and then it is handed back again).
 */
export class HandleLater extends Error {
  override readonly name = 'HandleLater';
  constructor(readonly delayMs: number) {
    super(`not due for another ${delayMs} ms`);
  }
}

/**
 * Whether a handler's failure is final: a poison message, or a problem its module declared not
 * retryable (a refused command is not going to be accepted the next time either). Anything else
 * (a service down, a lost race, an unexpected error) is worth another delivery.
 */
export function isNonRetryable(error: unknown): boolean {
  if (error instanceof NonRetryableError) return true;
  return error instanceof AcaiError && !error.retryable;
}

/** The reason a message is dead-lettered with (`max_deliveries`, a problem's reason, …). */
export function deadLetterReason(error: unknown): string {
  if (error instanceof NonRetryableError) return error.reason;
  if (error instanceof AcaiError) return error.reason.toLowerCase();
  return 'handler_failed';
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** A JetStream "not found" answer (stream or consumer), as opposed to a failure to ask. */
export function isMissing(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.status === 404;
}
