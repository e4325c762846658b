import {
  DescribeInstancesCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
  type Filter,
  type Instance,
  type RunInstancesCommandInput,
  type Tag,
  type _InstanceType,
} from '@aws-sdk/client-ec2';

/** EC2's instance states, as DescribeInstances reports them. */
export type Ec2InstanceState =
  'pending' | 'running' | 'shutting-down' | 'terminated' | 'stopping' | 'stopped';

/** An instance as the fleet needs to know it. */
export interface Ec2Instance {
  readonly id: string;
  readonly instanceType: string;
  readonly state: Ec2InstanceState;
  /** When EC2 launched it; absent if the answer did not say. */
  readonly launchedAt?: Date;
  readonly tags: Readonly<Record<string, string>>;
}

/** Everything RunInstances needs for one executor instance. */
export interface LaunchSpec {
  readonly instanceType: string;
  readonly imageId: string;
  /** Base64 of the cloud-init script. */
  readonly userData: string;
  readonly subnetId?: string;
  readonly securityGroupIds?: readonly string[];
  readonly keyName?: string;
  readonly instanceProfileArn?: string;
  /** Put on the instance and its volumes. */
  readonly tags: Readonly<Record<string, string>>;
  /** Idempotency token: a retry with the same token cannot launch a second instance. */
  readonly clientToken: string;
}

/** Which instances to list: all of these tags, in one of these states. */
export interface InstanceFilter {
  readonly tags: Readonly<Record<string, string>>;
  readonly states: readonly Ec2InstanceState[];
}

/** One page of a listing; `nextToken` is set when there are more. */
export interface InstancePage {
  readonly instances: readonly Ec2Instance[];
  readonly nextToken?: string;
}

/**
 * The EC2 calls the fleet makes, and nothing else. Errors are the SDK's own, unchanged: the fleet
 * classifies them (see `classifyEc2Error`). Implementations do not retry beyond what the SDK does.
 */
export interface Ec2Repository {
  /** RunInstances for exactly one instance. */
  launch(spec: LaunchSpec): Promise<Ec2Instance>;
  /** One page of DescribeInstances. */
  describe(filter: InstanceFilter, nextToken?: string): Promise<InstancePage>;
  /** TerminateInstances (at most 1000 ids). */
  terminate(ids: readonly string[]): Promise<void>;
}

const STATES: ReadonlySet<string> = new Set<Ec2InstanceState>([
  'pending',
  'running',
  'shutting-down',
  'terminated',
  'stopping',
  'stopped',
]);

function isState(value: string | undefined): value is Ec2InstanceState {
  return value !== undefined && STATES.has(value);
}

function toTags(tags: Readonly<Record<string, string>>): Tag[] {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}

function fromInstance(instance: Instance): Ec2Instance | undefined {
  const state = instance.State?.Name;
  if (instance.InstanceId === undefined || !isState(state)) return undefined;
  const tags: Record<string, string> = {};
  for (const tag of instance.Tags ?? []) {
    if (tag.Key !== undefined) tags[tag.Key] = tag.Value ?? '';
  }
  return {
    id: instance.InstanceId,
    instanceType: instance.InstanceType ?? 'unknown',
    state,
    ...(instance.LaunchTime === undefined ? {} : { launchedAt: instance.LaunchTime }),
    tags,
  };
}

/** The real thing, on `@aws-sdk/client-ec2`. */
export class SdkEc2Repository implements Ec2Repository {
  constructor(private readonly client: EC2Client) {}

  async launch(spec: LaunchSpec): Promise<Ec2Instance> {
    const tags = toTags(spec.tags);
    const input: RunInstancesCommandInput = {
      ImageId: spec.imageId,
      // The SDK types this as a union of the types it knew when it was built; newer types are
      // valid too, so the name is passed through as given.
      InstanceType: spec.instanceType as _InstanceType,
      MinCount: 1,
      MaxCount: 1,
      UserData: spec.userData,
      ClientToken: spec.clientToken,
      InstanceInitiatedShutdownBehavior: 'terminate',
      // IMDSv2 only: the bootstrap asks for a session token, and a process in a container on the
      // instance (one more network hop) cannot reach the metadata service.
      MetadataOptions: {
        HttpTokens: 'required',
        HttpEndpoint: 'enabled',
        HttpPutResponseHopLimit: 1,
      },
      TagSpecifications: [
        { ResourceType: 'instance', Tags: tags },
        { ResourceType: 'volume', Tags: tags },
      ],
      ...(spec.subnetId === undefined ? {} : { SubnetId: spec.subnetId }),
      ...(spec.securityGroupIds === undefined || spec.securityGroupIds.length === 0
        ? {}
        : { SecurityGroupIds: [...spec.securityGroupIds] }),
      ...(spec.keyName === undefined ? {} : { KeyName: spec.keyName }),
      ...(spec.instanceProfileArn === undefined
        ? {}
        : { IamInstanceProfile: { Arn: spec.instanceProfileArn } }),
    };
    const answer = await this.client.send(new RunInstancesCommand(input));
    const launched = answer.Instances?.[0];
    const instance = launched === undefined ? undefined : fromInstance(launched);
    if (instance === undefined) {
      throw new Error(
        `RunInstances answered without an instance (reservation ${answer.ReservationId ?? 'unknown'}); the next sync adopts it if one was launched`,
      );
    }
    return instance;
  }

  async describe(filter: InstanceFilter, nextToken?: string): Promise<InstancePage> {
    const filters: Filter[] = [
      ...Object.entries(filter.tags).map(([key, value]) => ({
        Name: `tag:${key}`,
        Values: [value],
      })),
      { Name: 'instance-state-name', Values: [...filter.states] },
    ];
    const answer = await this.client.send(
      new DescribeInstancesCommand({
        Filters: filters,
        ...(nextToken === undefined ? {} : { NextToken: nextToken }),
      }),
    );
    const instances: Ec2Instance[] = [];
    for (const reservation of answer.Reservations ?? []) {
      for (const raw of reservation.Instances ?? []) {
        const instance = fromInstance(raw);
        if (instance !== undefined) instances.push(instance);
      }
    }
    return answer.NextToken === undefined || answer.NextToken === ''
      ? { instances }
      : { instances, nextToken: answer.NextToken };
  }

  async terminate(ids: readonly string[]): Promise<void> {
    await this.client.send(new TerminateInstancesCommand({ InstanceIds: [...ids] }));
  }
}
