import {
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type RunInstancesCommandInput,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { HistoryEntry } from '@acai/contracts';
import { executorService } from '@acai/executor';
import { startService, type RunningService } from '@acai/platform';
import { eventually } from '@acai/testkit';
import { startSystem, type TestSystem } from '../support/system.js';

// There is no cloud here: the EC2 API is mocked at the SDK client, and everything else is real.
// An "instance" is an executor started in this process on the instance's pool with its id, as
// the user data would start it on the machine.
const ec2 = mockClient(EC2Client);

const BUS_SECRET = 'nats://acai:s3cr3t-bus-passw0rd@bus.internal:4222';

/** An error shaped as the SDK throws it for the EC2 query protocol. */
function awsError(code: string, status: number): Error {
  return Object.assign(new Error(`${code}: simulated by the test`), {
    name: code,
    Code: code,
    Error: { Code: code, Message: code },
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
  });
}

function launched(id: string, input: RunInstancesCommandInput) {
  return {
    Instances: [
      {
        InstanceId: id,
        InstanceType: input.InstanceType,
        State: { Name: 'pending' as const },
        LaunchTime: new Date(),
        Tags: input.TagSpecifications?.[0]?.Tags ?? [],
      },
    ],
  };
}

describe('the ec2 provider', () => {
  let system: TestSystem;
  const instances: RunningService[] = [];

  beforeAll(async () => {
    ec2.reset();
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    system = await startSystem({
      env: {
        ACAI_PROVIDERS: 'local,ec2',
        ACAI_EC2_REGION: 'eu-west-1',
        ACAI_EC2_IMAGE_ID: 'ami-0123456789abcdef0',
        ACAI_EC2_IDLE_TIMEOUT_MS: '1000',
        ACAI_EC2_MAX_INSTANCES: '1',
        ACAI_EC2_EXECUTOR_COMMAND: 'node /opt/acai/apps/executor/dist/main.js',
        ACAI_EC2_EXECUTOR_NATS_URL: BUS_SECRET,
      },
    });
  });

  afterAll(async () => {
    for (const instance of instances) await instance.close();
    await system?.close();
    ec2.restore();
  });

  /** Boots "the instance": its executor, on its pool, named by its instance id. */
  const boot = async (id: string, pool: string, type: string) => {
    instances.push(
      await startService(executorService, {
        env: {
          ...system.env,
          ACAI_DB_SCHEMA: `executor_${system.tag}`,
          ACAI_EXECUTOR_POOL: pool,
          ACAI_EXECUTOR_ID: id,
          ACAI_EXECUTOR_SLOTS: '1',
          ACAI_NODE_PROVIDER: 'ec2',
          ACAI_NODE_INSTANCE_TYPE: type,
        },
      }),
    );
  };

  const submit = async (offer: string) => {
    const submitted = await system.api('POST', '/api/v1/runs', {
      name: 'on-ec2',
      steps: [
        { name: 'job', command: ['sh', '-c', 'echo ran on $ACAI_CPUS CPUs'], provision: { offer } },
      ],
    });
    expect(submitted.status).toBe(202);
    const body = submitted.body as { id: string; jobs: { id: string }[] };
    return { runId: body.id, jobId: body.jobs[0]!.id };
  };

  const history = async (jobId: string) =>
    (await system.api('GET', `/api/v1/jobs/${jobId}/history`)).body as HistoryEntry[];

  it('launches an instance for a job, falls back when a type has no capacity, and terminates it once idle', async () => {
    const calls: RunInstancesCommandInput[] = [];
    ec2.on(RunInstancesCommand).callsFake((input: RunInstancesCommandInput) => {
      calls.push(input);
      if (input.InstanceType === 'c5.large') throw awsError('InsufficientInstanceCapacity', 500);
      if (calls.filter((c) => c.InstanceType === input.InstanceType).length === 1)
        throw awsError('RequestLimitExceeded', 503);
      return launched('i-0aaa000000000001', input);
    });
    ec2.on(TerminateInstancesCommand).resolves({});

    const { runId, jobId } = await submit('c5.large');
    const provisioned = await eventually('the job to be provisioned', async () =>
      (await history(jobId)).find((e) => e.type === 'job.provisioned'),
    );
    const data = provisioned.data as { provider: string; pool: string; offer: { name: string } };
    // c5.large had no capacity; the next type that fits was launched (after one throttled call).
    expect(calls[0]!.InstanceType).toBe('c5.large');
    const fallback = calls.at(-1)!.InstanceType!;
    expect(fallback).not.toBe('c5.large');
    expect(calls.filter((c) => c.InstanceType === fallback)).toHaveLength(2);
    expect(data).toMatchObject({ provider: 'ec2', pool: `ec2-${fallback.replace('.', '-')}` });

    // What the instance is told: its pool; it shuts itself down when its executor ends.
    const script = Buffer.from(calls.at(-1)!.UserData!, 'base64').toString('utf8');
    expect(script).toContain(data.pool);
    expect(script).toContain('shutdown -h now');
    expect(calls.at(-1)!.TagSpecifications![0]!.Tags).toEqual(
      expect.arrayContaining([{ Key: 'acai:managed', Value: 'true' }]),
    );

    // Booting: the node is listed before its executor says hello.
    const booting = (await system.api('GET', '/api/v1/nodes')).body as {
      items: { id: string; provider: string; state: string }[];
    };
    expect(booting.items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: 'i-0aaa000000000001', provider: 'ec2', state: 'booting' }),
      ]),
    );

    await boot('i-0aaa000000000001', data.pool, fallback);
    expect((await system.waitForRun(runId)).status).toBe('succeeded');
    const started = (await history(jobId)).find((e) => e.type === 'job.started')!;
    expect(started.data).toMatchObject({ executor: 'i-0aaa000000000001' });

    // Idle past its timeout: terminated, through the API.
    await eventually(
      'the idle instance to be terminated',
      () =>
        ec2
          .commandCalls(TerminateInstancesCommand)
          .some((c) => c.args[0].input.InstanceIds?.includes('i-0aaa000000000001')) || undefined,
    );
  });

  it('fails the job with the reason, not a stuck run, when no type can be had', async () => {
    ec2.on(RunInstancesCommand).rejects(awsError('InsufficientInstanceCapacity', 500));
    const { runId, jobId } = await submit('m5.xlarge');
    const run = await system.waitForRun(runId);
    expect(run.status).toBe('failed');
    const failed = (await history(jobId)).at(-1)!;
    expect(failed.type).toBe('job.failed');
    expect(failed.data).toMatchObject({ reason: 'no_resources' });
    const message = (failed.data as { message: string }).message;
    expect(message).toContain('m5.xlarge');
    expect(message).toContain('InsufficientInstanceCapacity');
  });

  it('makes a job wait in its pool at the instance limit, and runs it when an instance is free', async () => {
    ec2
      .on(RunInstancesCommand)
      .callsFake((input: RunInstancesCommandInput) => launched('i-0bbb000000000002', input));
    const launchesBefore = ec2.commandCalls(RunInstancesCommand).length;
    const first = await submit('c5.xlarge');
    const second = await submit('c5.xlarge');
    // Both are placed on the type's pool; the second is not failed for lack of an instance.
    for (const { jobId } of [first, second]) {
      const provisioned = await eventually('the job to be provisioned', async () =>
        (await history(jobId)).find((e) => e.type === 'job.provisioned'),
      );
      expect(provisioned.data).toMatchObject({ provider: 'ec2', pool: 'ec2-c5-xlarge' });
    }
    expect(ec2.commandCalls(RunInstancesCommand).length - launchesBefore).toBe(1);

    await boot('i-0bbb000000000002', 'ec2-c5-xlarge', 'c5.xlarge');
    expect((await system.waitForRun(first.runId)).status).toBe('succeeded');
    expect((await system.waitForRun(second.runId)).status).toBe('succeeded');
    for (const { jobId } of [first, second]) {
      expect((await history(jobId)).find((e) => e.type === 'job.started')!.data).toMatchObject({
        executor: 'i-0bbb000000000002',
      });
    }
    expect(ec2.commandCalls(RunInstancesCommand).length - launchesBefore).toBe(1);
  });
});
