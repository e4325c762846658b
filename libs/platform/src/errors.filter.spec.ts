import { describe, expect, it } from '@jest/globals';
import { HttpException } from '@nestjs/common';
import { AcaiError, FilesetProblems, RunProblems } from '@acai/contracts';
import { createLogger } from './logger.js';
import { toHttpError } from './errors.filter.js';

const logger = createLogger('test', 'silent');

describe('errors at the HTTP edge', () => {
  it('answers a problem document that keeps the error body of earlier releases', () => {
    const error = new AcaiError(
      FilesetProblems.FILESET_PARENT_MISMATCH,
      "File set 'mnist' is at version 4, not 3: another commit came first; commit again on 4",
    );

    expect(toHttpError(error, logger, '/api/v1/filesets/mnist/versions')).toEqual({
      status: 409,
      body: {
        type: 'urn:acai:problem:fileset-parent-mismatch',
        title: FilesetProblems.FILESET_PARENT_MISMATCH.title,
        status: 409,
        detail: error.message,
        instance: '/api/v1/filesets/mnist/versions',
        code: 'CONFLICT',
        reason: 'FILESET_PARENT_MISMATCH',
        retryable: false,
        error: {
          code: 'CONFLICT',
          reason: 'FILESET_PARENT_MISMATCH',
          retryable: false,
          message: error.message,
        },
      },
    });
  });

  it('maps each category to its status, whatever the module', () => {
    const status = (error: AcaiError) => toHttpError(error, logger).status;

    expect(status(new AcaiError(RunProblems.RUN_NOT_FOUND, 'No run'))).toBe(404);
    expect(status(new AcaiError(RunProblems.RUN_SPEC_INVALID, 'Invalid run spec'))).toBe(400);
    expect(status(new AcaiError(FilesetProblems.CATALOG_BEHIND, 'behind'))).toBe(503);
  });

  it('names a route that does not exist, and hides what it does not know', () => {
    expect(toHttpError(new HttpException('Cannot GET /x', 404), logger).body).toMatchObject({
      status: 404,
      reason: 'NO_SUCH_ROUTE',
      detail: 'No such endpoint; see /api/openapi.json',
    });
    const unexpected = toHttpError(new Error('password=hunter2 in a stack'), logger);
    expect(unexpected.status).toBe(500);
    expect(unexpected.body).toMatchObject({ reason: 'INTERNAL', retryable: true });
    expect(JSON.stringify(unexpected.body)).not.toContain('hunter2');
  });
});
