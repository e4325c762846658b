import { beforeEach, describe, expect, it } from '@jest/globals';
import {
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type DescribeInstancesCommandOutput,
  type RunInstancesCommandInput,
  type RunInstancesCommandOutput,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { AcaiError, ErrorCode } from '@acai/contracts';
import { Ec2Fleet, type Ec2FleetConfig } from './ec2-fleet.js';
import {
  Ec2CapacityError,
  Ec2ProviderError,
  Ec2RequestError,
  Ec2ThrottledError,
} from './ec2-errors.js';

const ec2 = mockClient(EC2Client);

const BUS_SECRET = 'nats://acai:s3cr3t-bus-passw0rd@bus.internal:4222';
const BLOB_SECRET = 's3://acai-blobs/prod?region=eu-west-1&secret=blob-k3y-9f8e7d';
const START = new Date('2026-03-01T12:00:00Z');
const MINUTE = 60_000;

/** An error shaped as the SDK throws it for the EC2 query protocol (`name`, `Code`, `Error`). */
function awsError(code: string, status: number, message = `${code} happened`): Error {
  return Object.assign(new Error(message), {
    name: code,
    Code: code,
    Error: { Code: code, Message: message },
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
  });
}

interface Harness {
  readonly fleet: Ec2Fleet;
  readonly sleeps: number[];
  /** Every log line, as JSON of its fields and message. */
  readonly logs: string[];
  advance(ms: number): void;
  now(): Date;
}

function harness(config: Partial<Ec2FleetConfig> = {}): Harness {
  let now = START;
  const sleeps: number[] = [];
  const logs: string[] = [];
  const log = (fields: object, msg?: string) => logs.push(JSON.stringify({ ...fields, msg }));
  const fleet = new Ec2Fleet({
    client: new EC2Client({
      region: 'eu-west-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    }),
    clock: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    // The middle of the jitter range, so each wait is half its ceiling.
    random: () => 0.5,
    config: {
      imageId: 'ami-0123456789abcdef0',
      subnetId: 'subnet-0a1b2c',
      securityGroupIds: ['sg-0executors'],
      instanceProfileArn: 'arn:aws:iam::123456789012:instance-profile/acai-executor',
      idleTimeoutMs: 10 * MINUTE,
      maxInstances: 4,
      tags: { 'acai:system': 'prod', team: 'ml' },
      ...config,
    },
    executorEnv: { NATS_URL: BUS_SECRET, ACAI_BLOB_STORE: BLOB_SECRET },
    logger: { info: log, warn: log },
  });
  return {
    fleet,
    sleeps,
    logs,
    advance: (ms) => {
      now = new Date(now.getTime() + ms);
    },
    now: () => now,
  };
}

/** A RunInstances answer: a new pending instance of the type asked for, numbered in order. */
function launchAnswer(): (input: RunInstancesCommandInput) => RunInstancesCommandOutput {
  let next = 1;
  return (input) => ({
    $metadata: {},
    Instances: [
      {
        InstanceId: `i-${(next++).toString(16).padStart(8, '0')}`,
        InstanceType: input.InstanceType,
        State: { Name: 'pending' },
        LaunchTime: START,
      },
    ],
  });
}

function launchesSucceed(): void {
  ec2.on(RunInstancesCommand).callsFake(launchAnswer());
}

function runInputs(): RunInstancesCommandInput[] {
  return ec2.commandCalls(RunInstancesCommand).map((call) => call.args[0].input);
}

function decodedUserData(input: RunInstancesCommandInput | undefined): string {
  return Buffer.from(input?.UserData ?? '', 'base64').toString('utf8');
}

/** Runs `fn` and returns what it threw (failing the test if it did not throw). */
async function thrown(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

function describePage(
  instances: { id: string; type: string; state: 'pending' | 'running'; pool?: string }[],
  nextToken?: string,
): DescribeInstancesCommandOutput {
  return {
    $metadata: {},
    Reservations: [
      {
        Instances: instances.map((instance) => ({
          InstanceId: instance.id,
          InstanceType: instance.type as RunInstancesCommandInput['InstanceType'],
          State: { Name: instance.state },
          LaunchTime: new Date(START.getTime() - 60 * MINUTE),
          Tags: [
            { Key: 'acai:managed', Value: 'true' },
            ...(instance.pool === undefined ? [] : [{ Key: 'acai:pool', Value: instance.pool }]),
          ],
        })),
      },
    ],
    ...(nextToken === undefined ? {} : { NextToken: nextToken }),
  };
}

beforeEach(() => {
  ec2.reset();
});

describe('Ec2Fleet.ensureCapacity: launching', () => {
  it('launches one instance of the preferred type, tagged, into the configured network', async () => {
    launchesSucceed();
    const { fleet } = harness();

    const capacity = await fleet.ensureCapacity({
      jobId: 'job-1',
      types: ['c5.large', 'c5a.large'],
    });

    expect(capacity).toEqual({
      pool: 'ec2-c5-large',
      instanceType: 'c5.large',
      instanceId: 'i-00000001',
      launched: true,
      attempts: [{ type: 'c5.large' }],
    });
    const [input, ...others] = runInputs();
    expect(others).toHaveLength(0);
    expect(input).toMatchObject({
      ImageId: 'ami-0123456789abcdef0',
      InstanceType: 'c5.large',
      MinCount: 1,
      MaxCount: 1,
      SubnetId: 'subnet-0a1b2c',
      SecurityGroupIds: ['sg-0executors'],
      IamInstanceProfile: { Arn: 'arn:aws:iam::123456789012:instance-profile/acai-executor' },
      InstanceInitiatedShutdownBehavior: 'terminate',
      MetadataOptions: { HttpTokens: 'required' },
    });
    const instanceTags = input?.TagSpecifications?.find((s) => s.ResourceType === 'instance');
    expect(instanceTags?.Tags).toEqual(
      expect.arrayContaining([
        { Key: 'acai:managed', Value: 'true' },
        { Key: 'acai:pool', Value: 'ec2-c5-large' },
        { Key: 'Name', Value: 'acai-executor-ec2-c5-large' },
        { Key: 'acai:system', Value: 'prod' },
        { Key: 'team', Value: 'ml' },
      ]),
    );
    expect(fleet.nodes()).toEqual([
      {
        id: 'i-00000001',
        provider: 'ec2',
        instanceType: 'c5.large',
        pool: 'ec2-c5-large',
        state: 'pending',
        jobId: 'job-1',
        launchedAt: START,
        idleSince: null,
      },
    ]);
  });

  it('boots the executor for the pool with one slot, keeps secrets out of logs, and powers off at the end', async () => {
    launchesSucceed();
    const { fleet, logs } = harness();

    await fleet.ensureCapacity({ jobId: 'job-1', types: ['c5.large'] });

    const script = decodedUserData(runInputs()[0]);
    const lines = script.trimEnd().split('\n');
    expect(lines[0]).toBe('#!/bin/bash');
    expect(lines.at(-1)).toBe('shutdown -h now');
    expect(script).toContain('umask 077');
    expect(script).toContain('ACAI_EXECUTOR_POOL=ec2-c5-large\n');
    expect(script).toContain('ACAI_EXECUTOR_SLOTS=1\n');
    expect(script).toContain('ACAI_EXECUTOR_ID=$instance_id\n');
    expect(script).toContain('ACAI_NODE_PROVIDER=ec2\n');
    expect(script).toContain('ACAI_NODE_INSTANCE_TYPE=c5.large\n');
    expect(script).toContain('X-aws-ec2-metadata-token-ttl-seconds'); // IMDSv2
    expect(script).toContain('npx --yes @acai/executor');
    // Nothing traced or echoed: no secret in the script's text, no `set -x`, no echo of a variable
    // other than the instance id and exit status.
    expect(script).not.toContain(BUS_SECRET);
    expect(script).not.toContain(BLOB_SECRET);
    expect(script).not.toMatch(/^set -x/m);
    for (const line of lines.filter((l) => /\becho\b/.test(l))) {
      expect(line.match(/\$\w+/g) ?? []).toEqual(
        expect.not.arrayContaining(['$NATS_URL', '$ACAI_BLOB_STORE']),
      );
    }
    // The executor still gets the values: they travel encoded into its root-only env file.
    const encoded = /<<'ACAI_ENV'[^\n]*\n([\s\S]*?)\nACAI_ENV\n/.exec(script)?.[1] ?? '';
    const envFile = Buffer.from(encoded.replaceAll('\n', ''), 'base64').toString('utf8');
    expect(envFile).toContain(`NATS_URL='${BUS_SECRET}'`);
    expect(envFile).toContain(`ACAI_BLOB_STORE='${BLOB_SECRET}'`);
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.join('\n')).not.toMatch(/s3cr3t|blob-k3y/);
  });

  it('uses a configured executor command and a given instance id instead of the metadata service', () => {
    const { fleet } = harness({ executorCommand: 'node /opt/acai/executor/dist/main.js' });

    const script = Buffer.from(fleet.userData('ec2-g5-xlarge', 'i-0abc'), 'base64').toString();

    expect(script).toContain('\nnode /opt/acai/executor/dist/main.js\n');
    expect(script).not.toContain('npx');
    expect(script).toContain("instance_id='i-0abc'");
    expect(script).not.toContain('169.254.169.254');
    expect(script).toContain('ACAI_EXECUTOR_POOL=ec2-g5-xlarge\n');
  });

  it('refuses a configuration whose executor variables cannot be passed, naming them', () => {
    expect(
      () =>
        new Ec2Fleet({
          client: new EC2Client({ region: 'eu-west-1' }),
          clock: () => START,
          sleep: async () => undefined,
          config: { imageId: 'ami-1', idleTimeoutMs: 1, maxInstances: 1 },
          executorEnv: { 'BAD-NAME': 'x', GOOD: 'y' },
        }),
    ).toThrow(
      expect.objectContaining({
        reason: 'EC2_INVALID_CONFIG',
        message: expect.stringContaining('BAD-NAME'),
      }),
    );
  });
});

describe('Ec2Fleet.ensureCapacity: reuse', () => {
  it('reserves an idle instance for the next job instead of launching a second one', async () => {
    launchesSucceed();
    const { fleet, advance } = harness();
    const first = await fleet.ensureCapacity({ jobId: 'job-1', types: ['c5.large'] });
    fleet.jobStarted(first.pool, 'job-1', first.instanceId);
    advance(MINUTE);
    fleet.jobEnded(first.pool, 'job-1');
    expect(fleet.nodes()[0]).toMatchObject({
      state: 'idle',
      jobId: null,
      idleSince: new Date(START.getTime() + MINUTE),
    });

    const second = await fleet.ensureCapacity({ jobId: 'job-2', types: ['c5.large'] });

    expect(second).toEqual({
      pool: 'ec2-c5-large',
      instanceType: 'c5.large',
      instanceId: first.instanceId,
      launched: false,
      attempts: [],
    });
    expect(runInputs()).toHaveLength(1);
    expect(fleet.nodes()[0]).toMatchObject({ state: 'running', jobId: 'job-2', idleSince: null });
  });

  it('launches another instance when the only one is busy', async () => {
    launchesSucceed();
    const { fleet } = harness();
    const first = await fleet.ensureCapacity({ jobId: 'job-1', types: ['c5.large'] });
    fleet.jobStarted(first.pool, 'job-1', first.instanceId);

    const second = await fleet.ensureCapacity({ jobId: 'job-2', types: ['c5.large'] });

    expect(second.launched).toBe(true);
    expect(second.instanceId).not.toBe(first.instanceId);
    expect(fleet.nodes().map((n) => n.state)).toEqual(['busy', 'pending']);
  });

  it('answers a repeated request for the same job with its reservation, launching once', async () => {
    launchesSucceed();
    const { fleet } = harness();

    const [a, b] = await Promise.all([
      fleet.ensureCapacity({ jobId: 'job-1', types: ['c5.large'] }),
      fleet.ensureCapacity({ jobId: 'job-1', types: ['c5.large'] }),
    ]);
    const again = await fleet.ensureCapacity({ jobId: 'job-1', types: ['c5.large'] });

    expect(runInputs()).toHaveLength(1);
    expect(b.instanceId).toBe(a.instanceId);
    expect(again).toMatchObject({ instanceId: a.instanceId, launched: false });
  });

  it('moves reservations when a job starts on another executor of the pool than the one reserved', async () => {
    launchesSucceed();
    const { fleet } = harness();
    const a = await fleet.ensureCapacity({ jobId: 'job-a', types: ['c5.large'] });
    const b = await fleet.ensureCapacity({ jobId: 'job-b', types: ['c5.large'] });

    // Executors pull from the pool's queue: job-b got to instance A first.
    fleet.jobStarted('ec2-c5-large', 'job-b', a.instanceId);

    const byId = new Map(fleet.nodes().map((n) => [n.id, n]));
    expect(byId.get(a.instanceId)).toMatchObject({ jobId: 'job-b', state: 'busy' });
    expect(byId.get(b.instanceId)).toMatchObject({ jobId: 'job-a', state: 'pending' });
  });
});

describe('Ec2Fleet.ensureCapacity: errors', () => {
  it('retries a throttled launch with growing, jittered waits and then succeeds', async () => {
    ec2
      .on(RunInstancesCommand)
      .rejectsOnce(awsError('RequestLimitExceeded', 503, 'Request limit exceeded.'))
      .rejectsOnce(awsError('RequestLimitExceeded', 503, 'Request limit exceeded.'))
      .rejectsOnce(awsError('ServiceUnavailable', 503))
      .callsFake(launchAnswer());
    const { fleet, sleeps } = harness();

    const capacity = await fleet.ensureCapacity({
      jobId: 'job-1',
      types: ['c5.large', 'c5a.large'],
    });

    expect(capacity).toMatchObject({ pool: 'ec2-c5-large', launched: true });
    expect(capacity.attempts).toEqual([
      { type: 'c5.large', error: 'RequestLimitExceeded: Request limit exceeded.' },
      { type: 'c5.large', error: 'RequestLimitExceeded: Request limit exceeded.' },
      { type: 'c5.large', error: 'ServiceUnavailable: ServiceUnavailable happened' },
      { type: 'c5.large' },
    ]);
    // Half of 500, 1000, 2000 ms (random() is 0.5).
    expect(sleeps).toEqual([250, 500, 1000]);
    const inputs = runInputs();
    expect(inputs.map((i) => i.InstanceType)).toEqual([
      'c5.large',
      'c5.large',
      'c5.large',
      'c5.large',
    ]);
    // One idempotency token for all four calls: a retry after a lost answer cannot launch twice.
    expect(new Set(inputs.map((i) => i.ClientToken)).size).toBe(1);
    expect(inputs[0]?.ClientToken).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('caps the wait and gives up on throttling after the configured number of calls', async () => {
    ec2.on(RunInstancesCommand).rejects(awsError('Throttling', 400, 'Rate exceeded'));
    const { fleet, sleeps } = harness({ retry: { attempts: 9 } });

    const error = await thrown(() =>
      fleet.ensureCapacity({ jobId: 'job-1', types: ['c5.large', 'c5a.large'] }),
    );

    expect(error).toBeInstanceOf(Ec2ThrottledError);
    expect(error).toMatchObject({
      reason: 'EC2_THROTTLED',
      code: ErrorCode.Unavailable,
      retryable: true,
    });
    expect(sleeps).toEqual([250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
    // Throttling is the account's API rate, not the type's: no fallback to c5a.large.
    expect(runInputs().map((i) => i.InstanceType)).toEqual(Array(9).fill('c5.large'));
  });

  it('falls back to the next type when the preferred one has no capacity, and says so', async () => {
    ec2
      .on(RunInstancesCommand)
      .rejectsOnce(
        awsError(
          'InsufficientInstanceCapacity',
          500,
          'We currently do not have sufficient c5.large capacity in the Availability Zone you requested (eu-west-1a).',
        ),
      )
      .callsFake(launchAnswer());
    const { fleet, sleeps } = harness();

    const capacity = await fleet.ensureCapacity({
      jobId: 'job-1',
      types: ['c5.large', 'c5a.large'],
    });

    expect(capacity).toMatchObject({
      pool: 'ec2-c5a-large',
      instanceType: 'c5a.large',
      launched: true,
    });
    expect(capacity.attempts).toEqual([
      {
        type: 'c5.large',
        error: expect.stringMatching(
          /^InsufficientInstanceCapacity: We currently do not have sufficient c5\.large/,
        ),
      },
      { type: 'c5a.large' },
    ]);
    expect(sleeps).toEqual([]);
    const fallback = runInputs()[1];
    expect(fallback?.InstanceType).toBe('c5a.large');
    expect(fallback?.TagSpecifications?.[0]?.Tags).toContainEqual({
      Key: 'acai:pool',
      Value: 'ec2-c5a-large',
    });
    expect(decodedUserData(fallback)).toContain('ACAI_EXECUTOR_POOL=ec2-c5a-large\n');
    expect(decodedUserData(fallback)).toContain('ACAI_NODE_INSTANCE_TYPE=c5a.large\n');
    expect(fleet.nodes()).toMatchObject([{ pool: 'ec2-c5a-large', jobId: 'job-1' }]);
  });

  it('throws Ec2CapacityError naming every type, every error and what to do when all types fail', async () => {
    ec2
      .on(RunInstancesCommand)
      .rejectsOnce(awsError('InsufficientInstanceCapacity', 500, 'Insufficient capacity.'))
      .rejectsOnce(
        awsError(
          'VcpuLimitExceeded',
          400,
          'You have requested more vCPU capacity than your current vCPU limit of 32 allows.',
        ),
      );
    const { fleet } = harness();

    const error = await thrown(() =>
      fleet.ensureCapacity({ jobId: 'job-7', types: ['p3.2xlarge', 'g5.2xlarge'] }),
    );

    expect(error).toBeInstanceOf(Ec2CapacityError);
    const capacityError = error as Ec2CapacityError;
    // An AcaiError of its problem, which decides the category and that waiting may help.
    expect(capacityError).toBeInstanceOf(AcaiError);
    expect(capacityError.reason).toBe('EC2_NO_CAPACITY');
    expect(capacityError.code).toBe(ErrorCode.Unavailable);
    expect(capacityError.retryable).toBe(true);
    expect(capacityError.attempts).toEqual([
      { type: 'p3.2xlarge', error: 'InsufficientInstanceCapacity: Insufficient capacity.' },
      { type: 'g5.2xlarge', error: expect.stringContaining('VcpuLimitExceeded') },
    ]);
    expect(capacityError.message).toContain('job-7');
    expect(capacityError.message).toContain('p3.2xlarge');
    expect(capacityError.message).toContain('g5.2xlarge');
    expect(capacityError.message).toContain('current vCPU limit of 32');
    expect(capacityError.message).toMatch(/raise the EC2 quota/);
    expect(capacityError.message).toMatch(/allow more instance types/);
    expect(fleet.nodes()).toEqual([]);
  });

  it('fails at once, without retry or fallback, on an error retrying cannot fix', async () => {
    ec2
      .on(RunInstancesCommand)
      .rejectsOnce(
        awsError('UnauthorizedOperation', 403, 'You are not authorized to perform this operation.'),
      )
      .callsFake(launchAnswer());
    const { fleet, sleeps } = harness();

    const error = await thrown(() =>
      fleet.ensureCapacity({ jobId: 'job-1', types: ['c5.large', 'c5a.large'] }),
    );

    expect(error).toBeInstanceOf(Ec2RequestError);
    expect(error).toMatchObject({
      reason: 'EC2_REJECTED',
      code: ErrorCode.Internal,
      awsCode: 'UnauthorizedOperation',
      retryable: false,
      attempts: [{ type: 'c5.large', error: expect.stringContaining('UnauthorizedOperation') }],
    });
    expect((error as Error).message).toContain('ec2:RunInstances');
    expect(runInputs()).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('reads the code from `Code` when the error name says nothing (InvalidAMIID.NotFound)', async () => {
    ec2.on(RunInstancesCommand).rejects(
      Object.assign(new Error("The image id '[ami-0123456789abcdef0]' does not exist"), {
        name: 'EC2ServiceException',
        Code: 'InvalidAMIID.NotFound',
        $metadata: { httpStatusCode: 400 },
      }),
    );
    const { fleet } = harness();

    const error = await thrown(() =>
      fleet.ensureCapacity({ jobId: 'job-1', types: ['c5.large', 'c5a.large'] }),
    );

    expect(error).toMatchObject({ awsCode: 'InvalidAMIID.NotFound', retryable: false });
    expect((error as Error).message).toContain('Check imageId');
    expect(runInputs()).toHaveLength(1);
  });

  it('keeps secret values out of error messages, attempts and logs even when AWS echoes them', async () => {
    ec2
      .on(RunInstancesCommand)
      .rejects(awsError('InvalidParameterValue', 400, `bad value ${BUS_SECRET}`));
    const { fleet, logs } = harness();

    const error = await thrown(() => fleet.ensureCapacity({ jobId: 'job-1', types: ['c5.large'] }));

    expect(JSON.stringify((error as Ec2RequestError).attempts)).not.toContain('s3cr3t');
    expect((error as Error).message).not.toContain('s3cr3t');
    expect((error as Error).message).toContain('bad value [redacted]');
    expect(logs.join('\n')).not.toContain('s3cr3t');
  });

  it('refuses to launch past maxInstances with a clear capacity error, and reuses once a job ends', async () => {
    launchesSucceed();
    const { fleet } = harness({ maxInstances: 1 });
    const first = await fleet.ensureCapacity({ jobId: 'job-1', types: ['c5.large'] });
    fleet.jobStarted(first.pool, 'job-1', first.instanceId);

    const error = await thrown(() => fleet.ensureCapacity({ jobId: 'job-2', types: ['c5.large'] }));

    expect(error).toBeInstanceOf(Ec2CapacityError);
    expect(error).toMatchObject({ reason: 'EC2_MAX_INSTANCES', retryable: true });
    expect((error as Error).message).toMatch(
      /limit of 1 instances.*job-2 waits.*raise maxInstances/s,
    );
    expect(runInputs()).toHaveLength(1);

    fleet.jobEnded(first.pool, 'job-1');
    await expect(
      fleet.ensureCapacity({ jobId: 'job-2', types: ['c5.large'] }),
    ).resolves.toMatchObject({
      instanceId: first.instanceId,
      launched: false,
    });
  });

  it('counts launches under way against maxInstances', async () => {
    launchesSucceed();
    const { fleet } = harness({ maxInstances: 1 });

    const results = await Promise.allSettled([
      fleet.ensureCapacity({ jobId: 'job-1', types: ['c5.large'] }),
      fleet.ensureCapacity({ jobId: 'job-2', types: ['c5.large'] }),
    ]);

    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expect(runInputs()).toHaveLength(1);
  });

  it('refuses a request with no instance type', async () => {
    const { fleet } = harness();
    const error = await thrown(() => fleet.ensureCapacity({ jobId: 'job-1', types: [] }));
    expect(error).toBeInstanceOf(Ec2ProviderError);
    expect(error).toMatchObject({
      reason: 'EC2_INVALID_REQUEST',
      code: ErrorCode.ValidationFailed,
      retryable: false,
    });
  });
});

describe('Ec2Fleet.reapIdle', () => {
  it('terminates an instance idle for longer than idleTimeoutMs, not before', async () => {
    launchesSucceed();
    ec2.on(TerminateInstancesCommand).resolves({ $metadata: {} });
    const { fleet, advance } = harness({ idleTimeoutMs: 10 * MINUTE });
    const capacity = await fleet.ensureCapacity({ jobId: 'job-1', types: ['c5.large'] });
    fleet.jobStarted(capacity.pool, 'job-1', capacity.instanceId);
    advance(30 * MINUTE); // busy for 30 minutes: never idle
    expect(await fleet.reapIdle()).toEqual([]);
    fleet.jobEnded(capacity.pool, 'job-1');

    advance(10 * MINUTE);
    expect(await fleet.reapIdle()).toEqual([]);
    expect(ec2.commandCalls(TerminateInstancesCommand)).toHaveLength(0);

    advance(1);
    expect(await fleet.reapIdle()).toEqual([capacity.instanceId]);
    expect(
      ec2.commandCalls(TerminateInstancesCommand).map((c) => c.args[0].input.InstanceIds),
    ).toEqual([[capacity.instanceId]]);
    expect(fleet.nodes()).toMatchObject([{ id: capacity.instanceId, state: 'terminating' }]);

    // A terminating instance is not handed out again.
    const next = await fleet.ensureCapacity({ jobId: 'job-2', types: ['c5.large'] });
    expect(next).toMatchObject({ launched: true });
    expect(next.instanceId).not.toBe(capacity.instanceId);
    expect(await fleet.reapIdle()).toEqual([]);
  });

  it('terminates a booting instance whose reservation was withdrawn, once the idle timeout passes', async () => {
    launchesSucceed();
    ec2.on(TerminateInstancesCommand).resolves({ $metadata: {} });
    const { fleet, advance } = harness({ idleTimeoutMs: 5 * MINUTE });
    const capacity = await fleet.ensureCapacity({ jobId: 'job-1', types: ['c5.large'] });

    fleet.jobEnded(capacity.pool, 'job-1'); // e.g. cancelled before it started
    expect(fleet.nodes()).toMatchObject([{ state: 'idle', idleSince: START }]);
    advance(5 * MINUTE + 1);

    expect(await fleet.reapIdle()).toEqual([capacity.instanceId]);
  });

  it('retries a throttled TerminateInstances, and keeps instances idle when AWS refuses', async () => {
    launchesSucceed();
    ec2
      .on(TerminateInstancesCommand)
      .rejectsOnce(awsError('RequestLimitExceeded', 503))
      .rejectsOnce(awsError('UnauthorizedOperation', 403))
      .resolves({ $metadata: {} });
    const { fleet, advance, sleeps } = harness({ idleTimeoutMs: 0 });
    const capacity = await fleet.ensureCapacity({ jobId: 'job-1', types: ['c5.large'] });
    fleet.jobEnded(capacity.pool, 'job-1');
    advance(1);

    await expect(fleet.reapIdle()).rejects.toMatchObject({ awsCode: 'UnauthorizedOperation' });
    expect(sleeps).toEqual([250]);
    expect(fleet.nodes()).toMatchObject([{ state: 'idle' }]);

    expect(await fleet.reapIdle()).toEqual([capacity.instanceId]);
  });

  it('forgets an instance that is already gone when terminating a batch', async () => {
    launchesSucceed();
    ec2
      .on(TerminateInstancesCommand)
      .rejectsOnce(awsError('InvalidInstanceID.NotFound', 400))
      .resolvesOnce({ $metadata: {} })
      .rejectsOnce(awsError('InvalidInstanceID.NotFound', 400));
    const { fleet, advance } = harness({ idleTimeoutMs: 0 });
    const a = await fleet.ensureCapacity({ jobId: 'job-a', types: ['c5.large'] });
    const b = await fleet.ensureCapacity({ jobId: 'job-b', types: ['c5.large'] });
    fleet.jobEnded(a.pool, 'job-a');
    fleet.jobEnded(b.pool, 'job-b');
    advance(1);

    expect(await fleet.reapIdle()).toEqual([a.instanceId]);
    expect(fleet.nodes().map((n) => [n.id, n.state])).toEqual([[a.instanceId, 'terminating']]);
  });

  it('terminateAll ends busy instances too', async () => {
    launchesSucceed();
    ec2.on(TerminateInstancesCommand).resolves({ $metadata: {} });
    const { fleet } = harness();
    const a = await fleet.ensureCapacity({ jobId: 'job-a', types: ['c5.large'] });
    fleet.jobStarted(a.pool, 'job-a', a.instanceId);

    expect(await fleet.terminateAll()).toEqual([a.instanceId]);
    await fleet.close();
    await expect(
      fleet.ensureCapacity({ jobId: 'job-b', types: ['c5.large'] }),
    ).rejects.toMatchObject({
      reason: 'EC2_INVALID_REQUEST',
    });
  });
});

describe('Ec2Fleet.sync', () => {
  it('rebuilds the fleet from every page of DescribeInstances, as idle instances of their pools', async () => {
    ec2
      .on(DescribeInstancesCommand)
      .resolvesOnce(
        describePage(
          [{ id: 'i-1', type: 'c5.large', state: 'running', pool: 'ec2-c5-large' }],
          'page-2',
        ),
      )
      .resolvesOnce(describePage([{ id: 'i-2', type: 'g5.xlarge', state: 'pending' }]));
    const { fleet } = harness();

    await fleet.sync();

    const calls = ec2.commandCalls(DescribeInstancesCommand).map((c) => c.args[0].input);
    expect(calls).toHaveLength(2);
    expect(calls[0]?.Filters).toEqual(
      expect.arrayContaining([
        { Name: 'tag:acai:managed', Values: ['true'] },
        { Name: 'tag:acai:system', Values: ['prod'] },
        { Name: 'instance-state-name', Values: ['pending', 'running'] },
      ]),
    );
    expect(calls[0]?.NextToken).toBeUndefined();
    expect(calls[1]?.NextToken).toBe('page-2');
    expect(fleet.nodes()).toEqual([
      {
        id: 'i-1',
        provider: 'ec2',
        instanceType: 'c5.large',
        pool: 'ec2-c5-large',
        state: 'idle',
        jobId: null,
        launchedAt: new Date(START.getTime() - 60 * MINUTE),
        idleSince: START,
      },
      expect.objectContaining({ id: 'i-2', pool: 'ec2-g5-xlarge', state: 'idle' }),
    ]);

    launchesSucceed();
    await expect(
      fleet.ensureCapacity({ jobId: 'job-1', types: ['c5.large'] }),
    ).resolves.toMatchObject({
      instanceId: 'i-1',
      launched: false,
    });
    expect(runInputs()).toHaveLength(0);
  });

  it('forgets instances terminated outside acai, but not one launched moments ago', async () => {
    launchesSucceed();
    ec2.on(DescribeInstancesCommand).resolvesOnce(describePage([])).resolvesOnce(describePage([]));
    const { fleet, advance, logs } = harness();
    const capacity = await fleet.ensureCapacity({ jobId: 'job-1', types: ['c5.large'] });
    fleet.jobStarted(capacity.pool, 'job-1', capacity.instanceId);

    // DescribeInstances is eventually consistent: a fresh launch may be missing from it.
    advance(30_000);
    expect(await fleet.sync()).toEqual({ adopted: [], forgotten: [] });
    expect(fleet.nodes()).toHaveLength(1);

    // A spot interruption later: the instance is gone, and with it the job (the queue redelivers).
    advance(10 * MINUTE);
    expect(await fleet.sync()).toEqual({
      adopted: [],
      forgotten: [{ instanceId: capacity.instanceId, jobId: 'job-1' }],
    });
    expect(fleet.nodes()).toEqual([]);
    expect(logs.join('\n')).toMatch(/gone with its job.*redelivers/);
  });

  it('forgets an instance it is told is gone at once, so its job gets another', async () => {
    launchesSucceed();
    const { fleet } = harness();
    const first = await fleet.ensureCapacity({ jobId: 'job-1', types: ['c5.large'] });
    fleet.jobStarted(first.pool, 'job-1', first.instanceId);

    // An interruption notice: no listing needed, the job no longer counts as placed.
    expect(fleet.instanceGone(first.instanceId)).toBe('job-1');
    expect(fleet.nodes()).toEqual([]);
    const second = await fleet.ensureCapacity({ jobId: 'job-1', types: ['c5.large'] });
    expect(second).toMatchObject({ launched: true });
    expect(second.instanceId).not.toBe(first.instanceId);
    expect(fleet.instanceGone('i-unknown')).toBeNull();
  });

  it('retries a throttled page and keeps what it knew when DescribeInstances is refused', async () => {
    ec2
      .on(DescribeInstancesCommand)
      .rejectsOnce(awsError('RequestLimitExceeded', 503))
      .resolvesOnce(describePage([{ id: 'i-1', type: 'c5.large', state: 'running' }]))
      .rejectsOnce(awsError('UnauthorizedOperation', 403));
    const { fleet, sleeps } = harness();

    await fleet.sync();
    expect(sleeps).toEqual([250]);
    expect(fleet.nodes().map((n) => n.id)).toEqual(['i-1']);

    await expect(fleet.sync()).rejects.toBeInstanceOf(Ec2RequestError);
    expect(fleet.nodes().map((n) => n.id)).toEqual(['i-1']);
  });
});
