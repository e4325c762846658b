/**
 * Error categories shared by every service. A category is part of the wire contract: the edges map
 * it to a status (HTTP today, gRPC later), and it is the `code` of every error body. What exactly
 * went wrong is the problem's `reason` (see {@link defineProblems}).
 */
export const ErrorCode = {
  ValidationFailed: 'VALIDATION_FAILED',
  NotFound: 'NOT_FOUND',
  Conflict: 'CONFLICT',
  Unauthenticated: 'UNAUTHENTICATED',
  Forbidden: 'FORBIDDEN',
  PayloadTooLarge: 'PAYLOAD_TOO_LARGE',
  UnsupportedMediaType: 'UNSUPPORTED_MEDIA_TYPE',
  /** The byte range asked for is outside the file. */
  RangeNotSatisfiable: 'RANGE_NOT_SATISFIABLE',
  /** Too many requests for now; `Retry-After` says when to try again. */
  RateLimited: 'RATE_LIMITED',
  Unavailable: 'UNAVAILABLE',
  /** Storing this would take the project over its storage quota. */
  InsufficientStorage: 'INSUFFICIENT_STORAGE',
  /** Well formed, but it cannot be done as asked (a run's deadline or budget cannot be met). */
  Unprocessable: 'UNPROCESSABLE',
  Internal: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * One kind of error, declared once by the module that raises it (`RUN_ALREADY_ENDED`,
 * `FILESET_PARENT_MISMATCH`). Domain code throws problems; only the edges turn their category into
 * a status, and consumers decide to retry from `retryable`, never from the category.
 */
export interface Problem<R extends string = string> {
  /** Upper snake case, unique across acai, stable: what clients branch on. */
  readonly reason: R;
  /** Its category, which the edges map to a status. */
  readonly code: ErrorCode;
  /** Whether the same request may succeed later as it is (a service was down, a race was lost). */
  readonly retryable: boolean;
  /** A short summary that is the same for every occurrence (the problem+json `title`). */
  readonly title: string;
  /** The module that declares it: `runs`, `filesets`, `provisioning`, … */
  readonly module: string;
}

/** How a module declares one problem; its key is the reason. */
export interface ProblemSpec {
  readonly code: ErrorCode;
  readonly retryable?: boolean;
  readonly title: string;
}

const REASON = /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/;
const registry = new Map<string, Problem>();

/**
 * Declares a module's problems, keyed by reason. A reason is unique across acai: declaring one a
 * second time is a programming error and fails at load. `retryable` defaults to false.
 */
export function defineProblems<const T extends Record<string, ProblemSpec>>(
  module: string,
  specs: T,
): { readonly [K in keyof T & string]: Problem<K> } {
  const out: Record<string, Problem> = {};
  for (const [reason, spec] of Object.entries(specs)) {
    if (!REASON.test(reason)) throw new Error(`Problem reason '${reason}' is not UPPER_SNAKE_CASE`);
    if (registry.has(reason)) {
      throw new Error(
        `Problem reason '${reason}' is declared twice (${registry.get(reason)?.module}, ${module})`,
      );
    }
    const problem: Problem = Object.freeze({
      reason,
      code: spec.code,
      retryable: spec.retryable ?? false,
      title: spec.title,
      module,
    });
    registry.set(reason, problem);
    out[reason] = problem;
  }
  return out as { readonly [K in keyof T & string]: Problem<K> };
}

/**
 * The URI that names a problem in an HTTP problem document (`type`): a URN, not a link, so that
 * clients match it and never fetch it; docs/errors.md lists them all.
 */
export function problemType(reason: string): string {
  return `urn:acai:problem:${reason.toLowerCase().replaceAll('_', '-')}`;
}

/** Every problem declared so far, in declaration order (for docs and the OpenAPI document). */
export function declaredProblems(): readonly Problem[] {
  return [...registry.values()];
}

/**
 * Facts a client may act on, beside the message: numbers above all (the bytes a project uses, its
 * quota, the upload's size). The edges put them in the problem document as members of their own
 * (RFC 9457 extension members), so that a client reads them without parsing the message.
 */
export type ProblemExtensions = Readonly<Record<string, string | number | boolean | null>>;

export interface ErrorDetail {
  /** Dotted path of the offending field, e.g. `steps.1.command`. */
  readonly path?: string;
  readonly message: string;
}

/** The serialisable form of an error, as it travels in a command reply. */
export interface ErrorBody {
  readonly code: ErrorCode;
  readonly reason: string;
  readonly retryable: boolean;
  readonly message: string;
  readonly details?: readonly ErrorDetail[];
  readonly extensions?: ProblemExtensions;
}

/**
 * A refused request or a broken invariant: a declared {@link Problem} and a message that says what
 * happened and what to do. Never thrown for an expected outcome: those are events (`job.failed`).
 */
export class AcaiError extends Error {
  override readonly name: string = 'AcaiError';
  readonly code: ErrorCode;
  readonly reason: string;
  readonly retryable: boolean;
  /** Facts beside the message (see {@link ProblemExtensions}). */
  readonly extensions?: ProblemExtensions;

  constructor(
    problem: Pick<Problem, 'code' | 'reason' | 'retryable'>,
    message: string,
    readonly details?: readonly ErrorDetail[],
    options?: { cause?: unknown; extensions?: ProblemExtensions },
  ) {
    super(message, options);
    this.code = problem.code;
    this.reason = problem.reason;
    this.retryable = problem.retryable;
    if (options?.extensions !== undefined) this.extensions = options.extensions;
  }

  /** Whether this is one of these problems. */
  is(...problems: readonly Pick<Problem, 'reason'>[]): boolean {
    return problems.some((p) => p.reason === this.reason);
  }

  toBody(): ErrorBody {
    return {
      code: this.code,
      reason: this.reason,
      retryable: this.retryable,
      message: this.message,
      ...(this.details === undefined ? {} : { details: this.details }),
      ...(this.extensions === undefined ? {} : { extensions: this.extensions }),
    };
  }

  /**
   * The error a command reply carries. A reply from a service that predates problems has only a
   * code: its reason is the code, and only an unavailable service is worth retrying.
   */
  static fromBody(body: Omit<ErrorBody, 'reason' | 'retryable'> & Partial<ErrorBody>): AcaiError {
    return new AcaiError(
      {
        code: body.code,
        reason: body.reason ?? body.code,
        retryable: body.retryable ?? body.code === ErrorCode.Unavailable,
      },
      body.message,
      body.details,
      body.extensions === undefined ? undefined : { extensions: body.extensions },
    );
  }
}

/** Whether `error` is an {@link AcaiError} of one of these problems. */
export function isProblem(
  error: unknown,
  ...problems: readonly Pick<Problem, 'reason'>[]
): error is AcaiError {
  return error instanceof AcaiError && error.is(...problems);
}

/** Whether trying the same thing again later may succeed. */
export function isRetryable(error: unknown): boolean {
  return error instanceof AcaiError && error.retryable;
}

export function assertUnreachable(value: never, what = 'value'): never {
  throw new Error(`Unhandled ${what}: ${JSON.stringify(value)}`);
}
