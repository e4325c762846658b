/**
 * How the fleet makes one EC2 call: transient failures (throttling, a passing fault) are retried
 * with jittered exponential backoff up to `retry.attempts` calls, each retry logged; a final
 * failure becomes an {@link Ec2ProviderError} whose message says what to do, secrets redacted.
 * Which failures are transient is `classifyEc2Error`'s decision, not this module's.
 */

import {
  backoffDelayMs,
  classifyEc2Error,
  describeEc2Error,
  ec2ErrorCode,
  Ec2RequestError,
  Ec2ThrottledError,
  rejectionAdvice,
  type Ec2ErrorKind,
  type Ec2ProviderError,
  type LaunchAttempt,
  type RetryPolicy,
} from './ec2-errors.js';
import type { FleetLog } from './fleet-log.js';

/** How a call ended after its retries: its value, or the last error and its kind. */
export type CallOutcome<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly kind: Ec2ErrorKind; readonly error: unknown };

export class Ec2Calls {
  constructor(
    private readonly retry: RetryPolicy,
    private readonly log: FleetLog,
    /** Waits between retries; injected so tests do not wait. */
    private readonly sleep: (ms: number) => Promise<void>,
    /** Source of the backoff jitter, in [0, 1). */
    private readonly random: () => number,
  ) {}

  /**
   * Calls `call`, retrying transient failures; answers the last failure rather than throwing it,
   * for callers that act on its kind (a launch falls back to another type on `capacity`).
   * `fields` go into each retry's log line.
   */
  async attempt<T>(
    operation: string,
    call: () => Promise<T>,
    fields: object = {},
  ): Promise<CallOutcome<T>> {
    for (let n = 1; ; n += 1) {
      try {
        return { ok: true, value: await call() };
      } catch (error) {
        const kind = classifyEc2Error(error);
        if (kind !== 'transient' || n >= this.retry.attempts) return { ok: false, kind, error };
        await this.backoff(n, operation, error, fields);
      }
    }
  }

  /** Calls `call`, retrying transient failures; throws the final failure, translated. */
  async call<T>(operation: string, call: () => Promise<T>): Promise<T> {
    const outcome = await this.attempt(operation, call);
    if (outcome.ok) return outcome.value;
    throw this.failure(outcome.kind, outcome.error, operation, []);
  }

  /**
   * The error to throw for a call that failed for good: `Ec2ThrottledError` when AWS was still
   * throttling after every retry, else `Ec2RequestError` with advice for its code. `what` ends the
   * sentence "AWS refused to …".
   */
  failure(
    kind: Ec2ErrorKind,
    error: unknown,
    what: string,
    attempts: readonly LaunchAttempt[],
  ): Ec2ProviderError {
    const reason = this.log.redact(describeEc2Error(error));
    switch (kind) {
      case 'transient':
        return new Ec2ThrottledError(
          `AWS was still throttling after ${this.retry.attempts} tries to ${what}: ${reason}. ` +
            'Try again later; if it persists, other callers share this account’s EC2 API rate.',
          attempts,
          { cause: error },
        );
      case 'capacity':
      case 'fatal':
        return new Ec2RequestError(
          ec2ErrorCode(error) ?? 'Unknown',
          `AWS refused to ${what}: ${reason}. ${rejectionAdvice(ec2ErrorCode(error))}`,
          attempts,
          { cause: error },
        );
      default: {
        const _exhaustive: never = kind;
        return _exhaustive;
      }
    }
  }

  private async backoff(
    call: number,
    operation: string,
    error: unknown,
    fields: object,
  ): Promise<void> {
    const delayMs = backoffDelayMs(call - 1, this.retry, this.random);
    this.log.warn(
      {
        ...fields,
        operation,
        error: this.log.redact(describeEc2Error(error)),
        retry: call,
        delayMs,
      },
      `${operation} was throttled or briefly unavailable; retrying`,
    );
    await this.sleep(delayMs);
  }
}
