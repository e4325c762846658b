import {
  Catch,
  HttpException,
  HttpStatus,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import type { FastifyError, FastifyReply } from 'fastify';
import { AcaiError, ErrorCode, type ErrorBody } from '@acai/contracts';
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
    case ErrorCode.Unavailable:
      return HttpStatus.SERVICE_UNAVAILABLE;
    case ErrorCode.Internal:
      return HttpStatus.INTERNAL_SERVER_ERROR;
  }
}

/** Turns anything thrown while serving a request into `{ error: { code, message, details? } }`. */
export function toHttpError(
  error: unknown,
  logger: Logger,
): { status: number; body: { error: ErrorBody } } {
  if (error instanceof AcaiError)
    return { status: statusOf(error.code), body: { error: error.toBody() } };
  const tooLarge = {
    status: 413,
    body: {
      error: {
        code: ErrorCode.PayloadTooLarge,
        message: 'The request body is larger than this server accepts (ACAI_MAX_BODY_BYTES)',
      },
    },
  };
  if (error instanceof HttpException) {
    const status = error.getStatus();
    if (status === 413) return tooLarge;
    const code =
      status === 404
        ? ErrorCode.NotFound
        : status === 401
          ? ErrorCode.Unauthenticated
          : ErrorCode.ValidationFailed;
    const message = status === 404 ? 'No such endpoint; see /api/openapi.json' : error.message;
    return { status, body: { error: { code, message } } };
  }
  const fastifyError = error as Partial<FastifyError>;
  if (
    fastifyError.code === 'ECONNRESET' ||
    (error instanceof Error && error.message === 'aborted')
  ) {
    // The client went away mid-request (an interrupted upload): nothing was kept, nobody to tell.
    return {
      status: 400,
      body: {
        error: {
          code: ErrorCode.ValidationFailed,
          message: 'The request was interrupted; nothing was stored',
        },
      },
    };
  }
  if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || fastifyError.statusCode === 413)
    return tooLarge;
  if (
    typeof fastifyError.statusCode === 'number' &&
    fastifyError.statusCode >= 400 &&
    fastifyError.statusCode < 500
  ) {
    const message =
      fastifyError.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
        ? 'Send the body as application/json'
        : `The request could not be read: ${fastifyError.message ?? 'bad request'}`;
    return {
      status: fastifyError.statusCode,
      body: { error: { code: ErrorCode.ValidationFailed, message } },
    };
  }
  logger.error(
    { err: error instanceof Error ? error.message : String(error) },
    'request failed unexpectedly',
  );
  return {
    status: 500,
    body: {
      error: {
        code: ErrorCode.Internal,
        message: 'Something went wrong on our side; the gateway log has the details',
      },
    },
  };
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
    const { status, body } = toHttpError(error, this.logger);
    void reply.status(status).send(body);
    return undefined;
  }
}
