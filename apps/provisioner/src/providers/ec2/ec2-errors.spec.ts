import { Readable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import {
  backoffDelayMs,
  classifyEc2Error,
  DEFAULT_RETRY_POLICY,
  describeEc2Error,
  ec2ErrorCode,
} from './ec2-errors.js';

/** What the real SDK throws when EC2 answers `status` with an error document for `code`. */
async function sdkError(status: number, code: string, message: string): Promise<unknown> {
  const body = `<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>7c1e0d4a</RequestID></Response>`;
  const client = new EC2Client({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
    requestHandler: {
      handle: async () => ({
        response: {
          statusCode: status,
          reason: '',
          headers: { 'content-type': 'text/xml;charset=UTF-8' },
          body: Readable.from([Buffer.from(body)]),
        },
      }),
    },
  });
  try {
    await client.send(
      new RunInstancesCommand({
        ImageId: 'ami-1',
        InstanceType: 'c5.large',
        MinCount: 1,
        MaxCount: 1,
      }),
    );
  } catch (error) {
    return error;
  } finally {
    client.destroy();
  }
  throw new Error('expected the SDK to throw');
}

describe('reading errors of the EC2 query protocol', () => {
  it('gets the code and status of an error the real SDK decoded from an EC2 answer', async () => {
    const error = await sdkError(
      500,
      'InsufficientInstanceCapacity',
      'We currently do not have sufficient c5.large capacity.',
    );

    expect(ec2ErrorCode(error)).toBe('InsufficientInstanceCapacity');
    expect(classifyEc2Error(error)).toBe('capacity');
    expect(describeEc2Error(error)).toBe(
      'InsufficientInstanceCapacity: We currently do not have sufficient c5.large capacity.',
    );
  });

  it('treats an SDK-decoded RequestLimitExceeded as transient and UnauthorizedOperation as fatal', async () => {
    expect(
      classifyEc2Error(await sdkError(503, 'RequestLimitExceeded', 'Request limit exceeded.')),
    ).toBe('transient');
    expect(classifyEc2Error(await sdkError(403, 'UnauthorizedOperation', 'Not authorized.'))).toBe(
      'fatal',
    );
  });

  it.each([
    ['RequestLimitExceeded', 'transient'],
    ['Throttling', 'transient'],
    ['ThrottlingException', 'transient'],
    ['ServiceUnavailable', 'transient'],
    ['InternalError', 'transient'],
    ['InsufficientInstanceCapacity', 'capacity'],
    ['InstanceLimitExceeded', 'capacity'],
    ['Unsupported', 'capacity'],
    ['InsufficientCapacity', 'capacity'],
    ['VcpuLimitExceeded', 'capacity'],
    ['MaxSpotInstanceCountExceeded', 'capacity'],
    ['UnauthorizedOperation', 'fatal'],
    ['InvalidAMIID.NotFound', 'fatal'],
    ['InvalidParameterValue', 'fatal'],
  ])('classifies %s as %s, from `name` alone or `Code` alone', (code, kind) => {
    const byName = Object.assign(new Error('x'), {
      name: code,
      $metadata: { httpStatusCode: 400 },
    });
    const byCode = Object.assign(new Error('x'), { name: 'EC2ServiceException', Code: code });
    expect(classifyEc2Error(byName)).toBe(kind);
    expect(classifyEc2Error(byCode)).toBe(kind);
  });

  it('treats any HTTP 503 as transient and a code-less error as fatal', () => {
    const unavailable = Object.assign(new Error('Slow down'), {
      $metadata: { httpStatusCode: 503 },
    });
    expect(classifyEc2Error(unavailable)).toBe('transient');
    expect(classifyEc2Error(new Error('boom'))).toBe('fatal');
    expect(classifyEc2Error('not even an error')).toBe('fatal');
  });

  it('treats a dropped connection (Node `code`) as transient', () => {
    expect(
      classifyEc2Error(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })),
    ).toBe('transient');
  });
});

describe('backoffDelayMs', () => {
  it('draws from [0, min(cap, base × 2^retry)]', () => {
    const top = () => 1;
    expect(
      [0, 1, 2, 3, 4, 5, 6].map((retry) => backoffDelayMs(retry, DEFAULT_RETRY_POLICY, top)),
    ).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 20_000]);
    expect(backoffDelayMs(3, DEFAULT_RETRY_POLICY, () => 0)).toBe(0);
    expect(backoffDelayMs(3, DEFAULT_RETRY_POLICY, () => 0.25)).toBe(1000);
  });
});
