import { describe, expect, it } from '@jest/globals';
import {
  AcaiError,
  declaredProblems,
  defineProblems,
  ErrorCode,
  isProblem,
  isRetryable,
  problemType,
  type ErrorBody,
} from './errors.js';
import { CommonProblems, FilesetProblems, RunProblems } from './problems/index.js';

describe('problems', () => {
  it('carries the declared reason, category and retryability on the error', () => {
    const error = new AcaiError(RunProblems.RUN_ALREADY_ENDED, 'The run has already ended');

    expect(error).toMatchObject({
      code: ErrorCode.Conflict,
      reason: 'RUN_ALREADY_ENDED',
      retryable: false,
      message: 'The run has already ended',
    });
    expect(error.is(RunProblems.RUN_NOT_FOUND, RunProblems.RUN_ALREADY_ENDED)).toBe(true);
    expect(isProblem(error, RunProblems.RUN_NOT_FOUND)).toBe(false);
    expect(isRetryable(error)).toBe(false);
    expect(isRetryable(new AcaiError(FilesetProblems.CATALOG_BEHIND, 'behind'))).toBe(true);
    expect(isRetryable(new Error('not a problem'))).toBe(false);
  });

  it('travels in a command reply and comes back the same', () => {
    const sent = new AcaiError(CommonProblems.INVALID_REQUEST, 'Invalid run spec', [
      { path: 'steps.0.command', message: 'Required' },
    ]);

    const received = AcaiError.fromBody(JSON.parse(JSON.stringify(sent.toBody())) as ErrorBody);

    expect(received.toBody()).toEqual(sent.toBody());
    expect(received.is(CommonProblems.INVALID_REQUEST)).toBe(true);
  });

  it('carries its numbers in a command reply', () => {
    const sent = new AcaiError(FilesetProblems.UPLOAD_MISSING, 'missing', undefined, {
      extensions: { usedBytes: 10, quotaBytes: null },
    });

    const received = AcaiError.fromBody(JSON.parse(JSON.stringify(sent.toBody())) as ErrorBody);

    expect(received.extensions).toEqual({ usedBytes: 10, quotaBytes: null });
    expect(received.toBody()).toEqual(sent.toBody());
  });

  it('reads a reply of a service that predates problems by its category', () => {
    const unavailable = AcaiError.fromBody({ code: ErrorCode.Unavailable, message: 'down' });
    const conflict = AcaiError.fromBody({ code: ErrorCode.Conflict, message: 'no' });

    expect([unavailable.reason, unavailable.retryable]).toEqual(['UNAVAILABLE', true]);
    expect([conflict.reason, conflict.retryable]).toEqual(['CONFLICT', false]);
  });

  it('refuses a reason declared twice, or one that is not UPPER_SNAKE_CASE', () => {
    expect(() =>
      defineProblems('again', { RUN_NOT_FOUND: { code: ErrorCode.NotFound, title: 'x' } }),
    ).toThrow("Problem reason 'RUN_NOT_FOUND' is declared twice (runs, again)");
    expect(() =>
      defineProblems('odd', { runNotFound: { code: ErrorCode.NotFound, title: 'x' } }),
    ).toThrow('is not UPPER_SNAKE_CASE');
  });

  it('lists every problem once, each with a title, and names it by a URN', () => {
    const reasons = declaredProblems().map((p) => p.reason);

    expect(new Set(reasons).size).toBe(reasons.length);
    expect(reasons).toEqual(expect.arrayContaining(['INVALID_REQUEST', 'FILESET_PARENT_MISMATCH']));
    for (const problem of declaredProblems()) expect(problem.title).not.toBe('');
    expect(problemType('FILESET_PARENT_MISMATCH')).toBe('urn:acai:problem:fileset-parent-mismatch');
  });
});
