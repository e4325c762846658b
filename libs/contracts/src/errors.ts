/**
 * Error codes shared by every service. A code is part of the wire contract: the gateway maps it
 * to an HTTP status, the CLI prints its message, and clients may branch on it.
 */
export const ErrorCode = {
  ValidationFailed: 'VALIDATION_FAILED',
  NotFound: 'NOT_FOUND',
  Conflict: 'CONFLICT',
  Unauthenticated: 'UNAUTHENTICATED',
  Forbidden: 'FORBIDDEN',
  PayloadTooLarge: 'PAYLOAD_TOO_LARGE',
  UnsupportedMediaType: 'UNSUPPORTED_MEDIA_TYPE',
  Unavailable: 'UNAVAILABLE',
  Internal: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface ErrorDetail {
  /** Dotted path of the offending field, e.g. `steps.1.command`. */
  readonly path?: string;
  readonly message: string;
}

/** The serialisable form of an error, as it travels in a command reply or an HTTP body. */
export interface ErrorBody {
  readonly code: ErrorCode;
  readonly message: string;
  readonly details?: readonly ErrorDetail[];
}

/**
 * A broken invariant or a refused request, with a code the edges translate. Never thrown for an
 * expected outcome: those are events (`job.failed`, `run.rejected`).
 */
export class AcaiError extends Error {
  override readonly name = 'AcaiError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: readonly ErrorDetail[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  toBody(): ErrorBody {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }

  static fromBody(body: ErrorBody): AcaiError {
    return new AcaiError(body.code, body.message, body.details);
  }
}

export function assertUnreachable(value: never, what = 'value'): never {
  throw new Error(`Unhandled ${what}: ${JSON.stringify(value)}`);
}
