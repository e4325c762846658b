import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  Catch,
  HttpException,
  HttpStatus,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import {
  AcaiError,
  AuthProblems,
  CommonProblems,
  declaredProblems,
  ErrorCode,
  problemType,
  type ErrorBody,
  type ErrorDetail,
} from '@acai/contracts';
import { throwError, type Observable } from 'rxjs';
import type { Logger } from './logger.js';

export function statusOf(code: ErrorCode): number {
  switch (code) {
    case ErrorCode.ValidationFailed:
      return HttpStatus.BAD_REQUEST;
    case ErrorCode.NotFound:
      return HttpStatus.NOT_FOUND;
    case ErrorCode.Conflict:
      return HttpStatus.CONFLICT;
    case ErrorCode.Unauthenticated:
      return HttpStatus.UNAUTHORIZED;
    case ErrorCode.Forbidden:
      return HttpStatus.FORBIDDEN;
    case ErrorCode.PayloadTooLarge:
      return HttpStatus.PAYLOAD_TOO_LARGE;
    case ErrorCode.UnsupportedMediaType:
      return HttpStatus.UNSUPPORTED_MEDIA_TYPE;
    case ErrorCode.RangeNotSatisfiable:
      return HttpStatus.REQUESTED_RANGE_NOT_SATISFIABLE;
    case ErrorCode.RateLimited:
      return HttpStatus.TOO_MANY_REQUESTS;
    case ErrorCode.Unavailable:
      return HttpStatus.SERVICE_UNAVAILABLE;
    case ErrorCode.InsufficientStorage:
      return HttpStatus.INSUFFICIENT_STORAGE;
    case ErrorCode.Unprocessable:
      return HttpStatus.UNPROCESSABLE_ENTITY;
    case ErrorCode.Internal:
      return HttpStatus.INTERNAL_SERVER_ERROR;
  }
}

/**
 * The body of every failed HTTP request: an RFC 9457 problem document (`application/problem+json`).
 * `type` names the problem (`urn:acai:problem:<reason>`, listed in docs/errors.md), `detail` says
 * what happened here and what to do. `code`, `reason` and `retryable` are extensions, and `error`
 * keeps the body of earlier releases (`{ code, message, details? }`) for clients that read it.
 */
export interface ProblemDocument {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  /** The path of the request that failed. */
  readonly instance?: string;
  readonly code: ErrorCode;
  readonly reason: string;
  readonly retryable: boolean;
  readonly details?: readonly ErrorDetail[];
  readonly error: ErrorBody;
  /** The problem's extension members (its numbers: see `ProblemExtensions`). */
  readonly [extension: string]: unknown;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

/** Members of the document itself: an extension of one of these names is left out. */
const MEMBERS = new Set([
  'type',
  'title',
  'status',
  'detail',
  'instance',
  'code',
  'reason',
  'retryable',
  'details',
  'error',
]);

/** The problem document of an error, as the edge answers it. */
export function problemDocument(error: AcaiError, instance?: string): ProblemDocument {
  const body = error.toBody();
  const known = declaredProblems().find((p) => p.reason === error.reason);
  const extensions = Object.entries(error.extensions ?? {}).filter(([name]) => !MEMBERS.has(name));
  return {
    ...Object.fromEntries(extensions),
    type: problemType(error.reason),
    title: known?.title ?? error.reason,
    status: statusOf(error.code),
    detail: error.message,
    ...(instance === undefined ? {} : { instance }),
    code: error.code,
    reason: error.reason,
    retryable: error.retryable,
    ...(error.details === undefined ? {} : { details: error.details }),
    error: body,
  };
}

/** Turns anything thrown while serving a request into a status and a problem document. */
export function toHttpError(
  error: unknown,
  logger: Logger,
  instance?: string,
): { status: number; body: ProblemDocument } {
  const answer = (problem: AcaiError) => ({
    status: statusOf(problem.code),
    body: problemDocument(problem, instance),
  });
  if (error instanceof AcaiError) return answer(error);
  const tooLarge = new AcaiError(
    CommonProblems.PAYLOAD_TOO_LARGE,
    'The request body is larger than this server accepts (ACAI_MAX_BODY_BYTES)',
  );
  if (error instanceof HttpException) {
    const status = error.getStatus();
    if (status === 413) return answer(tooLarge);
    if (status === 404) {
      return answer(
        new AcaiError(CommonProblems.NO_SUCH_ROUTE, 'No such endpoint; see /api/openapi.json'),
      );
    }
    if (status === 401) return answer(new AcaiError(AuthProblems.API_KEY_MISSING, error.message));
    return answer(new AcaiError(CommonProblems.INVALID_REQUEST, error.message));
  }
  const fastifyError = error as Partial<FastifyError>;
  if (
    fastifyError.code === 'ECONNRESET' ||
    (error instanceof Error && error.message === 'aborted')
  ) {
    // The client went away mid-request (an interrupted upload): nothing was kept, nobody to tell.
    return answer(
      new AcaiError(
        CommonProblems.REQUEST_INTERRUPTED,
        'The request was interrupted; nothing was stored',
      ),
    );
  }
  if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || fastifyError.statusCode === 413)
    return answer(tooLarge);
  if (fastifyError.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    // Fastify would answer 414 in a body of its own; no name in a path here is that long.
    return answer(overlongParameter());
  }
  if (fastifyError.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return answer(
      new AcaiError(CommonProblems.UNSUPPORTED_MEDIA_TYPE, 'Send the body as application/json'),
    );
  }
  if (
    typeof fastifyError.statusCode === 'number' &&
    fastifyError.statusCode >= 400 &&
    fastifyError.statusCode < 500
  ) {
    const problem = new AcaiError(
      CommonProblems.INVALID_REQUEST,
      `The request could not be read: ${fastifyError.message ?? 'bad request'}`,
    );
    return { status: fastifyError.statusCode, body: problemDocument(problem, instance) };
  }
  logger.error(
    { err: error instanceof Error ? error.message : String(error) },
    'request failed unexpectedly',
  );
  return answer(
    new AcaiError(
      CommonProblems.INTERNAL,
      'Something went wrong on our side; the gateway log has the details',
    ),
  );
}

/** Fastify's router refuses a path parameter longer than this (its default `maxParamLength`). */
export const MAX_PARAM_LENGTH = 100;

/**
 * The refusal of a path segment over {@link MAX_PARAM_LENGTH}: by the router, or by a catch-all
 * route (the dashboard's) that took the URL the router could not match because of it.
 */
export function overlongParameter(): AcaiError {
  return new AcaiError(
    CommonProblems.INVALID_REQUEST,
    `A path parameter is longer than ${MAX_PARAM_LENGTH} characters; no name or id here is that long`,
  );
}

/**
 * For Fastify's `frameworkErrors`: a URL its router refuses before any route runs (a broken
 * percent-escape, a path parameter over `maxParamLength`) gets a problem document like any other
 * error, not Fastify's own body.
 */
export function frameworkErrors(logger: Logger) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    const { status, body } = toHttpError(error, logger, request.url.split('?')[0]);
    void reply.status(status).header('content-type', PROBLEM_CONTENT_TYPE).send(body);
  };
}

/**
 * What Node's HTTP server writes for a request it cannot parse (Fastify's `clientErrorHandler`):
 * the problem document every other refusal gets, with `connection: close`, since the connection
 * cannot be read any further. Headers over the size limit are 431, a request too slow 408, any
 * other malformed request 400.
 */
export function clientErrorResponse(error: NodeJS.ErrnoException): string {
  const { status, problem } = clientProblem(error);
  const body = JSON.stringify({ ...problemDocument(problem), status });
  return [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    'connection: close',
    `content-type: ${PROBLEM_CONTENT_TYPE}`,
    `content-length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

function clientProblem(error: NodeJS.ErrnoException): { status: number; problem: AcaiError } {
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return {
      status: 408,
      problem: new AcaiError(
        CommonProblems.REQUEST_INTERRUPTED,
        'The request did not arrive in time; nothing was done',
      ),
    };
  }
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    return {
      status: 431,
      problem: new AcaiError(
        CommonProblems.INVALID_REQUEST,
        'The request line and headers are larger than this server accepts (16 KiB); nothing was done',
      ),
    };
  }
  return {
    status: 400,
    problem: new AcaiError(
      CommonProblems.INVALID_REQUEST,
      `The request is not valid HTTP/1.1 (${error.code ?? 'unreadable'}); nothing was done`,
    ),
  };
}

/** Fastify's `clientErrorHandler`: answers with {@link clientErrorResponse} and closes. */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  // Reset by the client: there is nobody to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  if (socket.writable) socket.write(clientErrorResponse(error));
  socket.destroy(error);
}

/**
 * One filter for both kinds of handler. HTTP: the error becomes a JSON reply with a status (never a
 * stack trace). Bus handlers: the original error is passed on untouched, so the transport can
 * answer a command with its code and a consumer can tell a retryable failure from a final one
 * (Nest would otherwise replace it with a generic RPC error).
 */
@Catch()
export class AcaiErrorsFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(error: unknown, host: ArgumentsHost): Observable<never> | undefined {
    if (host.getType() !== 'http') return throwError(() => error);
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const request = http.getRequest<FastifyRequest>();
    const { status, body } = toHttpError(error, this.logger, request.url.split('?')[0]);
    // Refused before its body was read (an upload too large, a key refused): close the connection
    // after the answer, so the rest of the body is never read.
    if (!request.raw.complete) void reply.header('connection', 'close');
    void reply.status(status).header('content-type', PROBLEM_CONTENT_TYPE).send(body);
    return undefined;
  }
}
