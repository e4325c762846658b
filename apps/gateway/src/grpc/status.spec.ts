import { describe, expect, it } from '@jest/globals';
import { status } from '@grpc/grpc-js';
import {
  AcaiError,
  AuthProblems,
  BlobProblems,
  CommonProblems,
  declaredProblems,
  ErrorCode,
  FilesetProblems,
  RunProblems,
} from '@acai/contracts';
import { grpcCodeOf, grpcErrorOf } from './status.js';

describe('gRPC status of an error', () => {
  it.each([
    [CommonProblems.INVALID_REQUEST, status.INVALID_ARGUMENT],
    [FilesetProblems.FILESET_NOT_FOUND, status.NOT_FOUND],
    [RunProblems.JOB_NOT_FOUND, status.NOT_FOUND],
    [FilesetProblems.FILESET_EXISTS, status.ALREADY_EXISTS],
    [FilesetProblems.FILESET_PARENT_MISMATCH, status.FAILED_PRECONDITION],
    [RunProblems.RUN_ALREADY_ENDED, status.FAILED_PRECONDITION],
    [AuthProblems.API_KEY_MISSING, status.UNAUTHENTICATED],
    [AuthProblems.API_KEY_INVALID, status.UNAUTHENTICATED],
    [AuthProblems.KEY_SCOPE_REQUIRED, status.PERMISSION_DENIED],
    [AuthProblems.RATE_LIMITED, status.RESOURCE_EXHAUSTED],
    [BlobProblems.UPLOAD_TOO_LARGE, status.RESOURCE_EXHAUSTED],
  ])('%o → %s', (problem, expected) => {
    expect(grpcErrorOf(new AcaiError(problem, 'm')).code).toBe(expected);
  });

  it('maps every category, and UNAVAILABLE, quotas and deadlines as the HTTP edge does', () => {
    for (const code of Object.values(ErrorCode)) {
      expect(Object.values(status)).toContain(grpcCodeOf(code, 'SOMETHING'));
    }
    expect(grpcCodeOf(ErrorCode.Unavailable, 'X')).toBe(status.UNAVAILABLE);
    expect(grpcCodeOf(ErrorCode.InsufficientStorage, 'X')).toBe(status.RESOURCE_EXHAUSTED);
    expect(grpcCodeOf(ErrorCode.Unprocessable, 'X')).toBe(status.FAILED_PRECONDITION);
    expect(grpcCodeOf(ErrorCode.Internal, 'X')).toBe(status.INTERNAL);
    // Every problem acai declares gets a status other than OK or UNKNOWN.
    for (const problem of declaredProblems()) {
      expect([status.OK, status.UNKNOWN]).not.toContain(grpcCodeOf(problem.code, problem.reason));
    }
  });

  it('keeps the message naming the field, and the facts as trailers', () => {
    const error = new AcaiError(
      CommonProblems.INVALID_REQUEST,
      'Invalid run spec: steps.0.command: Required',
      [{ path: 'steps.0.command', message: 'Required' }],
      { extensions: { limit: 5 } },
    );
    const out = grpcErrorOf(error, 3);
    expect(out.details).toBe('Invalid run spec: steps.0.command: Required');
    expect(out.metadata?.get('acai-reason')).toEqual(['INVALID_REQUEST']);
    expect(JSON.parse(String(out.metadata?.get('acai-details')[0]))).toEqual([
      { path: 'steps.0.command', message: 'Required' },
    ]);
    expect(JSON.parse(String(out.metadata?.get('acai-extensions')[0]))).toEqual({ limit: 5 });
    expect(out.metadata?.get('retry-after')).toEqual(['3']);
  });

  it('gives nothing of an unexpected error away', () => {
    const out = grpcErrorOf(new Error('password=hunter2 at db.internal'));
    expect(out.code).toBe(status.INTERNAL);
    expect(out.details).not.toContain('hunter2');
  });
});
