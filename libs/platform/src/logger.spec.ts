import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { createLogger, redactUrl } from './logger.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, stream };
}

describe('logs', () => {
  it('are JSON lines with the service name, and never carry secrets', () => {
    const { lines, stream } = capture();
    const logger = createLogger('gateway', 'info', stream);
    logger.info(
      {
        authorization: 'Bearer acai_secret',
        headers: { authorization: 'Bearer acai_secret2' },
        apiKey: 'k',
        DATABASE_URL: 'postgres://u:pw@h/db',
        jobId: 'job-1',
      },
      'hello',
    );
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line['service']).toBe('gateway');
    expect(line['msg']).toBe('hello');
    expect(line['jobId']).toBe('job-1');
    expect(lines[0]).not.toMatch(/acai_secret|pw@|"k"/);
  });

  it('masks the password of a URL', () => {
    expect(redactUrl('postgres://acai:s3cret@db:5432/acai')).toBe(
      'postgres://acai:***@db:5432/acai',
    );
  });
});
