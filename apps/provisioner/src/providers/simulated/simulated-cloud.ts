import type { Offer } from '@acai/provisioning';
import {
  POOL_TAG,
  type Ec2Instance,
  type Ec2InstanceState,
  type Ec2Repository,
  type InstanceFilter,
  type InstancePage,
  type LaunchSpec,
} from '../ec2/index.js';
import { instanceCost, interruptionDelaySeconds, marketType } from './simulation-model.js';
import type { Cancel, VirtualClock } from './virtual-clock.js';

/** An instance of the simulated cloud, as the simulation sees it. */
export interface SimulatedInstance {
  readonly id: string;
  /** Launch order, from 1. */
  readonly seq: number;
  /** The type as launched: `c5.large`, or `c5.large-spot` for the Spot market. */
  readonly type: string;
  /** The offer it was launched from: size, speed, boot time, price, interruption rate. */
  readonly offer: Offer;
  /** The work pool its executor pulls from (its `acai:pool` tag). */
  readonly pool: string;
  readonly tags: Readonly<Record<string, string>>;
  /** The RunInstances idempotency token it was launched with. */
  readonly clientToken: string;
  /** Virtual epoch milliseconds. */
  readonly launchedAt: number;
  state: Ec2InstanceState;
  runningAt: number | null;
  endedAt: number | null;
  /** Why it ended: terminated by a call, or reclaimed by the Spot market. */
  endReason: 'terminated' | 'interrupted' | null;
}

/** What the cloud tells the simulation about its instances. */
export interface CloudListener {
  /** Booted: its executor may pull work now. */
  running(instance: SimulatedInstance): void;
  /** Terminated or interrupted: its executor is gone with whatever it was running. */
  gone(instance: SimulatedInstance): void;
}

export interface SimulatedCloudOptions {
  readonly clock: VirtualClock;
  /** What can be launched: on-demand and Spot offers, each under its {@link marketType}. */
  readonly offers: readonly Offer[];
  readonly listener?: CloudListener;
  /** Instances per DescribeInstances page (default 1000, EC2's most; smaller tests paging). */
  readonly pageSize?: number;
  /** How long a terminated instance stays listed, in virtual ms (EC2: about an hour). */
  readonly keepTerminatedMs?: number;
}

/** Figures of the cloud so far. */
export interface CloudStats {
  readonly launched: number;
  /** Pending or running now. */
  readonly active: number;
  readonly running: number;
  /** Most instances pending or running at once. */
  readonly peakActive: number;
  readonly peakRunning: number;
  readonly terminated: number;
  readonly interrupted: number;
  /** USD, per second with a minute's minimum, launch to termination (to now for live ones). */
  readonly cost: number;
  /** Instance-hours paid for, launch to termination (to now for live ones). */
  readonly instanceHours: number;
  /** Launches per type as launched (`c5.large-spot`). */
  readonly launchedByType: Readonly<Record<string, number>>;
}

const MAX_TERMINATE_IDS = 1000;
const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;

/**
 * A cloud that answers the EC2 fleet's three calls as EC2 would, on a virtual clock: RunInstances
 * gives a `pending` instance that is `running` after its offer's boot time, Spot instances are
 * reclaimed at random (exponential waits at the offer's rate), DescribeInstances filters by tag
 * and state and pages with a token, TerminateInstances fails as a whole on an unknown id and
 * accepts instances that are already terminated. Errors are shaped as the AWS SDK throws them.
 */
export class SimulatedCloud implements Ec2Repository {
  private readonly clock: VirtualClock;
  private readonly offers: ReadonlyMap<string, Offer>;
  private listener: CloudListener | undefined;
  private readonly pageSize: number;
  private readonly keepTerminatedMs: number;
  /** Every instance still listed, in launch order. */
  private list: SimulatedInstance[] = [];
  private readonly byId = new Map<string, SimulatedInstance>();
  private readonly byToken = new Map<string, string>();
  private readonly timers = new Map<string, Cancel[]>();
  private seq = 0;
  private activeCount = 0;
  private runningCount = 0;
  private peakActive = 0;
  private peakRunning = 0;
  private terminatedCount = 0;
  private interruptedCount = 0;
  private endedCost = 0;
  private endedHours = 0;
  private readonly launchedByType: Record<string, number> = {};

  constructor(options: SimulatedCloudOptions) {
    this.clock = options.clock;
    this.offers = new Map(options.offers.map((o) => [marketType(o), o]));
    this.listener = options.listener;
    this.pageSize = options.pageSize ?? 1000;
    this.keepTerminatedMs = options.keepTerminatedMs ?? 3_600_000;
  }

  /** Who hears of instances booting and ending (the simulated executors). */
  listen(listener: CloudListener): void {
    this.listener = listener;
  }

  /** Every type it can launch (`c5.large`, `c5.large-spot`, …). */
  types(): string[] {
    return [...this.offers.keys()];
  }

  /** The offer behind a type as launched, if the cloud has it. */
  offerOf(type: string): Offer | undefined {
    return this.offers.get(type);
  }

  async launch(spec: LaunchSpec): Promise<Ec2Instance> {
    const again = this.byToken.get(spec.clientToken);
    const known = again === undefined ? undefined : this.byId.get(again);
    if (known !== undefined) return view(known);
    if (spec.imageId.trim() === '') {
      throw awsError('InvalidAMIID.Malformed', 'Invalid id: "" (expecting "ami-...")');
    }
    const offer = this.offers.get(spec.instanceType);
    if (offer === undefined) {
      throw awsError(
        'InvalidParameterValue',
        `Invalid value '${spec.instanceType}' for InstanceType: the simulated cloud offers ${[...this.offers.keys()].join(', ')}`,
      );
    }
    this.seq += 1;
    const instance: SimulatedInstance = {
      id: `i-${this.seq.toString(16).padStart(17, '0')}`,
      seq: this.seq,
      type: spec.instanceType,
      offer,
      pool: spec.tags[POOL_TAG] ?? spec.instanceType,
      tags: { ...spec.tags },
      clientToken: spec.clientToken,
      launchedAt: this.clock.nowMs(),
      state: 'pending',
      runningAt: null,
      endedAt: null,
      endReason: null,
    };
    this.list.push(instance);
    this.byId.set(instance.id, instance);
    this.byToken.set(spec.clientToken, instance.id);
    this.launchedByType[instance.type] = (this.launchedByType[instance.type] ?? 0) + 1;
    this.activeCount += 1;
    this.peakActive = Math.max(this.peakActive, this.activeCount);
    this.timers.set(instance.id, [
      this.clock.schedule(offer.bootSeconds * 1000, () => this.boot(instance)),
    ]);
    return view(instance);
  }

  async describe(filter: InstanceFilter, nextToken?: string): Promise<InstancePage> {
    let after = 0;
    if (nextToken === undefined) {
      this.forgetOldTerminated();
    } else {
      after = parseToken(nextToken);
    }
    const wanted = new Set(filter.states);
    const tags = Object.entries(filter.tags);
    const instances: Ec2Instance[] = [];
    let last = after;
    for (let i = lowerBound(this.list, after + 1); i < this.list.length; i++) {
      const instance = this.list[i]!;
      if (wanted.size > 0 && !wanted.has(instance.state)) continue;
      if (!tags.every(([key, value]) => instance.tags[key] === value)) continue;
      // One more matches than fit: there is a next page, starting after the last one given.
      if (instances.length === this.pageSize) return { instances, nextToken: token(last) };
      instances.push(view(instance));
      last = instance.seq;
    }
    return { instances };
  }

  async terminate(ids: readonly string[]): Promise<void> {
    if (ids.length > MAX_TERMINATE_IDS) {
      throw awsError(
        'InvalidParameterValue',
        `At most ${MAX_TERMINATE_IDS} instance ids per call, got ${ids.length}`,
      );
    }
    const malformed = ids.filter((id) => !INSTANCE_ID.test(id));
    if (malformed.length > 0) {
      throw awsError('InvalidInstanceID.Malformed', `Invalid id: "${malformed[0]}"`);
    }
    const unknown = ids.filter((id) => !this.byId.has(id));
    if (unknown.length > 0) {
      // EC2 refuses the whole call, terminating none of them.
      throw awsError(
        'InvalidInstanceID.NotFound',
        `The instance IDs '${unknown.join(', ')}' do not exist`,
      );
    }
    for (const id of ids) this.end(this.byId.get(id)!, 'terminated');
  }

  /** An instance still listed (terminated ones are, for a while). */
  instance(id: string): SimulatedInstance | undefined {
    return this.byId.get(id);
  }

  /** Instances pending or running now. */
  get active(): number {
    return this.activeCount;
  }

  stats(): CloudStats {
    const now = this.clock.nowMs();
    let cost = this.endedCost;
    let hours = this.endedHours;
    for (const instance of this.list) {
      if (instance.endedAt !== null) continue;
      const seconds = (now - instance.launchedAt) / 1000;
      cost += instanceCost(instance.offer.pricePerHour, seconds);
      hours += seconds / 3600;
    }
    return {
      launched: this.seq,
      active: this.activeCount,
      running: this.runningCount,
      peakActive: this.peakActive,
      peakRunning: this.peakRunning,
      terminated: this.terminatedCount,
      interrupted: this.interruptedCount,
      cost,
      instanceHours: hours,
      launchedByType: { ...this.launchedByType },
    };
  }

  /** Stops every pending boot and interruption (the simulation is over). */
  close(): void {
    for (const cancels of this.timers.values()) for (const cancel of cancels) cancel();
    this.timers.clear();
  }

  private boot(instance: SimulatedInstance): void {
    if (instance.state !== 'pending') return;
    instance.state = 'running';
    instance.runningAt = this.clock.nowMs();
    this.runningCount += 1;
    this.peakRunning = Math.max(this.peakRunning, this.runningCount);
    const delay = interruptionDelaySeconds(
      instance.offer.spot ? instance.offer.interruptionsPerHour : 0,
      this.clock.random(`spot:${instance.seq}`),
    );
    if (Number.isFinite(delay)) {
      this.timers.set(instance.id, [
        this.clock.schedule(delay * 1000, () => this.end(instance, 'interrupted')),
      ]);
    } else {
      this.timers.delete(instance.id);
    }
    this.listener?.running(instance);
  }

  private end(instance: SimulatedInstance, reason: 'terminated' | 'interrupted'): void {
    if (instance.state === 'terminated') return;
    for (const cancel of this.timers.get(instance.id) ?? []) cancel();
    this.timers.delete(instance.id);
    if (instance.state === 'running') this.runningCount -= 1;
    this.activeCount -= 1;
    instance.state = 'terminated';
    instance.endedAt = this.clock.nowMs();
    instance.endReason = reason;
    const seconds = (instance.endedAt - instance.launchedAt) / 1000;
    this.endedCost += instanceCost(instance.offer.pricePerHour, seconds);
    this.endedHours += seconds / 3600;
    if (reason === 'interrupted') this.interruptedCount += 1;
    else this.terminatedCount += 1;
    this.listener?.gone(instance);
  }

  /** EC2 lists a terminated instance for about an hour, then it is unknown. */
  private forgetOldTerminated(): void {
    const before = this.clock.nowMs() - this.keepTerminatedMs;
    const old = (i: SimulatedInstance) => i.endedAt !== null && i.endedAt < before;
    if (!this.list.some(old)) return;
    for (const instance of this.list) {
      if (!old(instance)) continue;
      this.byId.delete(instance.id);
      this.byToken.delete(instance.clientToken);
    }
    this.list = this.list.filter((i) => !old(i));
  }
}

/** The instance as DescribeInstances shows it: its type as launched, its state and tags. */
function view(instance: SimulatedInstance): Ec2Instance {
  return {
    id: instance.id,
    instanceType: instance.type,
    state: instance.state,
    launchedAt: new Date(instance.launchedAt),
    tags: instance.tags,
  };
}

/** The first index whose instance has `seq` at least this (the list is in launch order). */
function lowerBound(list: readonly SimulatedInstance[], seq: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.seq < seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const TOKEN_PREFIX = 'sim-after-';

function token(seq: number): string {
  return Buffer.from(`${TOKEN_PREFIX}${seq}`).toString('base64url');
}

function parseToken(text: string): number {
  const decoded = Buffer.from(text, 'base64url').toString('utf8');
  const seq = decoded.startsWith(TOKEN_PREFIX) ? Number(decoded.slice(TOKEN_PREFIX.length)) : NaN;
  if (!Number.isSafeInteger(seq) || seq < 0) {
    throw awsError('InvalidParameterValue', `The NextToken '${text}' is not valid`);
  }
  return seq;
}

/** An error shaped as the AWS SDK throws it for EC2 (`name`, `Code`, `Error.Code`, status). */
export function awsError(code: string, message: string, status = 400): Error {
  return Object.assign(new Error(message), {
    name: code,
    Code: code,
    Error: { Code: code, Message: message },
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
  });
}
