import { describe, expect, it } from '@jest/globals';
import { HttpException } from '@nestjs/common';
import Fastify from 'fastify';
import { AcaiError, BlobProblems, FilesetProblems, RunProblems } from '@acai/contracts';
import { createLogger } from './logger.js';
import {
  clientErrorResponse,
  frameworkErrors,
  PROBLEM_CONTENT_TYPE,
  toHttpError,
} from './errors.filter.js';

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
    expect(status(new AcaiError(BlobProblems.STORAGE_QUOTA_EXCEEDED, 'over quota'))).toBe(507);
  });

  it('gives a problem’s numbers members of their own, never in place of the document’s', () => {
    const error = new AcaiError(BlobProblems.STORAGE_QUOTA_EXCEEDED, 'over quota', undefined, {
      extensions: { usedBytes: 900, quotaBytes: 1000, uploadBytes: 200, status: 200, type: 'x' },
    });

    const { status, body } = toHttpError(error, logger, '/api/v1/blobs');

    expect(status).toBe(507);
    expect(body).toMatchObject({
      type: 'urn:acai:problem:storage-quota-exceeded',
      status: 507,
      code: 'INSUFFICIENT_STORAGE',
      usedBytes: 900,
      quotaBytes: 1000,
      uploadBytes: 200,
    });
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

  it('answers a URL the router refuses before any route runs with a problem document', async () => {
    const app = Fastify({ frameworkErrors: frameworkErrors(logger) });
    app.get('/runs/:id', () => ({}));

    const broken = await app.inject({ method: 'GET', url: '/runs/%zz' });
    expect(broken.statusCode).toBe(400);
    expect(broken.headers['content-type']).toBe(PROBLEM_CONTENT_TYPE);
    expect(broken.json()).toMatchObject({
      status: 400,
      reason: 'INVALID_REQUEST',
      instance: '/runs/%zz',
    });

    // Fastify's router refuses a parameter over 100 characters, with a 414 of its own.
    const long = await app.inject({ method: 'GET', url: `/runs/${'a'.repeat(101)}` });
    expect(long.statusCode).toBe(400);
    expect(long.headers['content-type']).toBe(PROBLEM_CONTENT_TYPE);
    expect(long.json()).toMatchObject({
      status: 400,
      reason: 'INVALID_REQUEST',
      detail: 'A path parameter is longer than 100 characters; no name or id here is that long',
    });
    await app.close();
  });

  it('answers a request Node cannot parse with a problem document, and closes the connection', () => {
    const answer = (code: string) => {
      const [head, body] = clientErrorResponse(
        Object.assign(new Error('Parse Error'), { code }),
      ).split('\r\n\r\n');
      return { head: head!.split('\r\n'), body: JSON.parse(body!) as Record<string, unknown> };
    };

    const malformed = answer('HPE_INVALID_METHOD');
    expect(malformed.head).toEqual([
      'HTTP/1.1 400 Bad Request',
      'connection: close',
      `content-type: ${PROBLEM_CONTENT_TYPE}`,
      expect.stringMatching(/^content-length: \d+$/),
    ]);
    expect(malformed.body).toMatchObject({
      status: 400,
      reason: 'INVALID_REQUEST',
      detail: 'The request is not valid HTTP/1.1 (HPE_INVALID_METHOD); nothing was done',
    });

    const huge = answer('HPE_HEADER_OVERFLOW');
    expect(huge.head[0]).toBe('HTTP/1.1 431 Request Header Fields Too Large');
    expect(huge.body).toMatchObject({ status: 431, reason: 'INVALID_REQUEST' });

    const slow = answer('ERR_HTTP_REQUEST_TIMEOUT');
    expect(slow.head[0]).toBe('HTTP/1.1 408 Request Timeout');
    expect(slow.body).toMatchObject({
      status: 408,
      reason: 'REQUEST_INTERRUPTED',
      retryable: true,
    });
  });
});
