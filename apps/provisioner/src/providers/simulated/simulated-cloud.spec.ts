import { describe, expect, it } from '@jest/globals';
import { ec2Offers, type Offer } from '@acai/provisioning';
import { classifyEc2Error, Ec2Fleet, type LaunchSpec } from '../ec2/index.js';
import { fakeTime } from './fake-time.js';
import { SimulatedCloud, type SimulatedInstance } from './simulated-cloud.js';
import { VirtualClock } from './virtual-clock.js';

const START = new Date('2026-03-01T12:00:00Z');
const MINUTE = 60_000;

function offers(spotRate = 0.01): Offer[] {
  return [
    ...ec2Offers({ provider: 'simulated' }),
    ...ec2Offers({ provider: 'simulated', spot: true, interruptionsPerHour: spotRate }),
  ];
}

function harness(options: { pageSize?: number; spotRate?: number; speedup?: number } = {}) {
  const time = fakeTime();
  // Speed-up 60: a virtual minute per real second.
  const clock = new VirtualClock({
    speedup: options.speedup ?? 60,
    seed: 1,
    start: START,
    realTime: time.realTime,
  });
  const events: string[] = [];
  const cloud = new SimulatedCloud({
    clock,
    offers: offers(options.spotRate),
    pageSize: options.pageSize ?? 100,
    listener: {
      running: (i) => events.push(`running ${i.id}`),
      gone: (i) => events.push(`${i.endReason ?? '?'} ${i.id}`),
    },
  });
  /** Moves virtual time on by `ms`. */
  const advance = (ms: number) => time.advance(clock.realMs(ms));
  return { cloud, clock, events, advance };
}

let tokens = 0;
function spec(type: string, pool = `simulated-${type.replace('.', '-')}`): LaunchSpec {
  return {
    instanceType: type,
    imageId: 'ami-simulated',
    userData: '',
    tags: { 'acai:managed': 'true', 'acai:pool': pool },
    clientToken: `token-${++tokens}`,
  };
}

async function thrown(fn: () => Promise<unknown>): Promise<Error & { Code?: string }> {
  try {
    await fn();
  } catch (error) {
    return error as Error & { Code?: string };
  }
  throw new Error('expected a rejection');
}

const running = { tags: { 'acai:managed': 'true' }, states: ['pending', 'running'] as const };

describe('SimulatedCloud', () => {
  it('launches a pending instance that is running after the offer’s boot time', async () => {
    const { cloud, events, advance } = harness();
    const instance = await cloud.launch(spec('c5.large'));
    expect(instance).toMatchObject({
      instanceType: 'c5.large',
      state: 'pending',
      launchedAt: START,
      tags: { 'acai:pool': 'simulated-c5-large' },
    });
    expect(instance.id).toMatch(/^i-[0-9a-f]{17}$/);
    advance(59_000);
    expect((await cloud.describe(running)).instances[0]!.state).toBe('pending');
    expect(events).toEqual([]);
    advance(1_000);
    expect((await cloud.describe(running)).instances[0]!.state).toBe('running');
    expect(events).toEqual([`running ${instance.id}`]);
    expect(cloud.stats()).toMatchObject({ launched: 1, active: 1, running: 1 });
  });

  it('answers a repeated launch with the same client token with the same instance', async () => {
    const { cloud } = harness();
    const request = spec('m5.large');
    const first = await cloud.launch(request);
    expect(await cloud.launch(request)).toEqual(first);
    expect(cloud.stats().launched).toBe(1);
  });

  it('refuses a type it does not offer, as EC2 does (not retryable)', async () => {
    const { cloud } = harness();
    const error = await thrown(() => cloud.launch(spec('x9.huge')));
    expect(error.Code).toBe('InvalidParameterValue');
    expect(classifyEc2Error(error)).toBe('fatal');
    expect(error.message).toContain('c5.large-spot');
  });

  it('lists by tag and state, page by page, each instance once', async () => {
    const { cloud, advance } = harness({ pageSize: 3 });
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await cloud.launch(spec('c5.large'))).id);
    await cloud.launch({ ...spec('c5.large'), tags: { 'acai:managed': 'false' } });
    advance(2 * MINUTE);
    await cloud.terminate([ids[1]!]);
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await cloud.describe(running, token);
      expect(page.instances.length).toBeLessThanOrEqual(3);
      seen.push(...page.instances.map((i) => i.id));
      token = page.nextToken;
      pages++;
    } while (token !== undefined);
    expect(seen).toEqual(ids.filter((id) => id !== ids[1]));
    expect(pages).toBe(2);
    // Terminated ones are listed as such when asked for.
    const gone = await cloud.describe({ tags: {}, states: ['terminated'] });
    expect(gone.instances.map((i) => i.id)).toEqual([ids[1]]);
  });

  it('rejects a next token it did not give', async () => {
    const { cloud } = harness();
    const error = await thrown(() => cloud.describe(running, 'not-a-token'));
    expect(error.Code).toBe('InvalidParameterValue');
  });

  it('terminates nothing when one id is unknown, and accepts ids already terminated', async () => {
    const { cloud, events } = harness();
    const a = await cloud.launch(spec('c5.large'));
    const b = await cloud.launch(spec('c5.large'));
    const error = await thrown(() => cloud.terminate([a.id, 'i-0000000000000beef']));
    expect(error.Code).toBe('InvalidInstanceID.NotFound');
    expect(error.message).toContain('i-0000000000000beef');
    expect(cloud.stats().active).toBe(2);
    expect((await thrown(() => cloud.terminate(['bogus']))).Code).toBe(
      'InvalidInstanceID.Malformed',
    );

    await cloud.terminate([a.id]);
    await cloud.terminate([a.id, b.id]);
    expect(events).toEqual([`terminated ${a.id}`, `terminated ${b.id}`]);
    expect(cloud.stats()).toMatchObject({ active: 0, terminated: 2, interrupted: 0 });
    expect((await cloud.describe(running)).instances).toEqual([]);
  });

  it('forgets terminated instances after an hour, as EC2 does', async () => {
    const { cloud, advance } = harness();
    const a = await cloud.launch(spec('c5.large'));
    await cloud.terminate([a.id]);
    advance(61 * MINUTE);
    expect((await cloud.describe({ tags: {}, states: [] })).instances).toEqual([]);
    expect((await thrown(() => cloud.terminate([a.id]))).Code).toBe('InvalidInstanceID.NotFound');
  });

  it('reclaims Spot instances at random at the offer’s rate, never on-demand ones', async () => {
    // 6 interruptions per instance-hour: almost every Spot instance is lost within two hours.
    const { cloud, events, advance } = harness({ spotRate: 6 });
    const spot: SimulatedInstance[] = [];
    const onDemand: string[] = [];
    for (let i = 0; i < 20; i++) {
      spot.push(cloud.instance((await cloud.launch(spec('c5.large-spot'))).id)!);
      onDemand.push((await cloud.launch(spec('c5.large'))).id);
    }
    advance(121 * MINUTE);
    const interrupted = spot.filter((i) => i.endReason === 'interrupted');
    expect(interrupted.length).toBeGreaterThanOrEqual(18);
    for (const i of interrupted) {
      expect(i.state).toBe('terminated');
      expect(events).toContain(`interrupted ${i.id}`);
      // Lost while running, never before it booted.
      expect(i.endedAt! - i.runningAt!).toBeGreaterThanOrEqual(0);
    }
    for (const id of onDemand) expect(cloud.instance(id)!.state).toBe('running');
    expect(cloud.stats().interrupted).toBe(interrupted.length);
  });

  it('loses the same Spot instances at the same times with the same seed', async () => {
    const fates = async () => {
      const { cloud, advance } = harness({ spotRate: 1 });
      const ids: string[] = [];
      for (let i = 0; i < 10; i++) ids.push((await cloud.launch(spec('c5.large-spot'))).id);
      advance(3 * 60 * MINUTE);
      return ids.map((id) => cloud.instance(id)!.endedAt);
    };
    expect(await fates()).toEqual(await fates());
  });

  it('bills every instance per second from launch to termination, a minute at least', async () => {
    const { cloud, advance } = harness();
    const price = offers().find((o) => o.name === 'c5.large' && !o.spot)!.pricePerHour;
    const spotPrice = offers().find((o) => o.name === 'c5.large' && o.spot)!.pricePerHour;
    const a = await cloud.launch(spec('c5.large'));
    const b = await cloud.launch(spec('c5.large-spot'));
    const c = await cloud.launch(spec('c5.large'));
    await cloud.terminate([c.id]);
    advance(30 * MINUTE);
    await cloud.terminate([a.id]);
    advance(30 * MINUTE);
    const stats = cloud.stats();
    expect(stats.cost).toBeCloseTo(price / 2 + spotPrice + price / 60, 9);
    expect(stats.instanceHours).toBeCloseTo(1.5, 9);
    expect(stats.launchedByType).toEqual({ 'c5.large': 2, 'c5.large-spot': 1 });
    expect(b.instanceType).toBe('c5.large-spot');
  });

  it('is driven by the EC2 fleet: launch, reuse, idle reaping, and sync after a Spot loss', async () => {
    const { cloud, clock, advance } = harness({ pageSize: 2, spotRate: 0 });
    const fleet = new Ec2Fleet({
      repository: cloud,
      clock: () => clock.now(),
      sleep: (ms) => clock.sleep(ms),
      config: {
        imageId: 'ami-simulated',
        idleTimeoutMs: 5 * MINUTE,
        maxInstances: 10,
        poolPrefix: 'simulated',
        syncGraceMs: 1_000,
      },
      executorEnv: {},
    });
    const placed = await fleet.ensureCapacity({ jobId: 'job-1', types: ['c5.large-spot'] });
    expect(placed).toMatchObject({ pool: 'simulated-c5-large-spot', launched: true });
    for (let i = 2; i <= 5; i++)
      await fleet.ensureCapacity({ jobId: `job-${i}`, types: ['m5.large'] });
    advance(2 * MINUTE);
    for (let i = 1; i <= 5; i++)
      fleet.jobEnded(i === 1 ? 'simulated-c5-large-spot' : 'simulated-m5-large', `job-${i}`);

    // A free instance of the type is reused, not launched.
    const reused = await fleet.ensureCapacity({ jobId: 'job-6', types: ['m5.large'] });
    expect(reused.launched).toBe(false);
    expect(cloud.stats().launched).toBe(5);

    // Idle past the timeout: terminated through the cloud.
    advance(6 * MINUTE);
    const reaped = await fleet.reapIdle();
    expect(reaped).toHaveLength(4);
    expect(cloud.stats()).toMatchObject({ active: 1, terminated: 4 });

    // An instance ended outside the fleet: forgotten at its next sync (read over pages of two).
    const lost = cloud.instance(reused.instanceId)!;
    await cloud.terminate([lost.id]);
    await fleet.sync();
    expect(fleet.nodes()).toEqual([]);
  });
});
