import { z } from 'zod';
import { ErrorCode } from '@acai/contracts';

/** The problem document (RFC 9457) every failed request answers, as far as a client relies on it. */
export const ProblemDocumentSchema = z.looseObject({
  type: z.string().optional(),
  title: z.string().optional(),
  status: z.number().int().optional(),
  detail: z.string().optional(),
  code: z.enum(Object.values(ErrorCode) as [ErrorCode, ...ErrorCode[]]).optional(),
  reason: z.string().optional(),
  retryable: z.boolean().optional(),
  details: z
    .array(z.looseObject({ path: z.string().optional(), message: z.string().optional() }))
    .optional(),
});
export type ProblemDocument = z.infer<typeof ProblemDocumentSchema>;

/** The server refused a request: its status and problem document, typed. */
export class AcaiApiError extends Error {
  override readonly name = 'AcaiApiError';
  /** The category (`NOT_FOUND`, `VALIDATION_FAILED` …); `INTERNAL` when the body was no problem. */
  readonly code: ErrorCode;
  /** What exactly went wrong (`FILESET_NOT_FOUND`); the code when the server did not say. */
  readonly reason: string;
  /** What happened and what to do, as the server said it. */
  readonly detail: string;
  readonly retryable: boolean;
  /** The fields at fault, for a validation error. */
  readonly details: readonly { path?: string; message?: string }[];
  /** The whole problem document (its extension members too); none when the body was not one. */
  readonly problem: ProblemDocument | undefined;

  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    problem: ProblemDocument | undefined,
    text: string,
  ) {
    const code = problem?.code ?? codeOfStatus(status);
    const detail = problem?.detail ?? (text.trim().slice(0, 500) || `HTTP ${status}`);
    super(`${method} ${path}: ${status} ${detail}`);
    this.code = code;
    this.reason = problem?.reason ?? code;
    this.detail = detail;
    this.retryable = problem?.retryable ?? (status === 429 || status === 503);
    this.details = problem?.details ?? [];
    this.problem = problem;
  }

  /** Reads a failed response's body into an error. */
  static async from(response: Response, method: string, path: string): Promise<AcaiApiError> {
    const text = await response.text().catch(() => '');
    let problem: ProblemDocument | undefined;
    try {
      const parsed = ProblemDocumentSchema.safeParse(JSON.parse(text));
      if (parsed.success) problem = parsed.data;
    } catch {
      // Not JSON: a proxy's page, say. The text is the detail.
    }
    return new AcaiApiError(response.status, method, path, problem, text);
  }
}

/** The server could not be reached, or the connection broke. */
export class AcaiConnectionError extends Error {
  override readonly name = 'AcaiConnectionError';
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    const why = cause instanceof Error ? causeMessage(cause) : String(cause);
    super(`cannot reach ${url}: ${why}`, { cause });
  }
}

/** The server answered something the contract does not allow (a version mismatch, a proxy). */
export class AcaiProtocolError extends Error {
  override readonly name = 'AcaiProtocolError';
}

function causeMessage(error: Error): string {
  const inner = error.cause;
  if (inner instanceof Error) {
    const code = (inner as Error & { code?: unknown }).code;
    return typeof code === 'string' ? `${code} (${inner.message})` : inner.message;
  }
  return error.message;
}

function codeOfStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
      return ErrorCode.ValidationFailed;
    case 401:
      return ErrorCode.Unauthenticated;
    case 403:
      return ErrorCode.Forbidden;
    case 404:
      return ErrorCode.NotFound;
    case 409:
      return ErrorCode.Conflict;
    case 413:
      return ErrorCode.PayloadTooLarge;
    case 415:
      return ErrorCode.UnsupportedMediaType;
    case 416:
      return ErrorCode.RangeNotSatisfiable;
    case 422:
      return ErrorCode.Unprocessable;
    case 429:
      return ErrorCode.RateLimited;
    case 503:
      return ErrorCode.Unavailable;
    case 507:
      return ErrorCode.InsufficientStorage;
    default:
      return ErrorCode.Internal;
  }
}
