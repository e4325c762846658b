import { describe, expect, it } from '@jest/globals';
import { commonConfig, loadConfig } from '@acai/platform';
import { ec2Offers, type Offer } from '@acai/provisioning';
import { provisionerConfig, type ProvisionerConfig } from '../../config.js';
import { fakeTime } from './fake-time.js';
import type {
  ExecutorStats,
  NodeExecutors,
  NodeHooks,
  SimulatedNode,
} from './simulated-executor.js';
import { SimulatedProvider } from './simulated.provider.js';
import { VirtualClock } from './virtual-clock.js';

const SPEEDUP = 600;
const TICK_MS = 10_000;
const BOOT_MS = 60_000;
const HOUR = 3_600_000;

/**
 * Executors that do what the real ones do with work, in memory and in order: each node runs one
 * job at a time, a job waits on its pool's queue until a node of the pool is free, and a lost
 * node's job goes back on the queue (after the handler unwinds, as a NAK does). Jobs never end by
 * themselves: they run until their node is lost.
 */
class ScriptedExecutors implements NodeExecutors {
  readonly queues = new Map<string, string[]>();
  readonly nodes = new Map<string, { node: SimulatedNode; job: string | null }>();

  constructor(
    private readonly hooks: NodeHooks,
    private readonly onStart: (jobId: string) => void,
  ) {}

  /** The scheduler put the job's work on its pool's queue. */
  submit(pool: string, jobId: string): void {
    this.queue(pool).push(jobId);
    this.pull(pool);
  }

  start(): void {}
  async stop(): Promise<void> {}

  nodeUp(node: SimulatedNode): void {
    this.nodes.set(node.id, { node, job: null });
    this.pull(node.pool);
  }

  nodeDown(node: Pick<SimulatedNode, 'id' | 'pool'>): void {
    const entry = this.nodes.get(node.id);
    this.nodes.delete(node.id);
    if (entry?.job == null) return;
    const job = entry.job;
    // The handler sees the abort in a later task, reports the loss and releases the work.
    queueMicrotask(() => {
      this.hooks.jobLost(entry.node, job);
      this.submit(entry.node.pool, job);
    });
  }

  freeNodes(pool: string): number {
    return [...this.nodes.values()].filter((n) => n.node.pool === pool && n.job === null).length;
  }

  isRunning(jobId: string): boolean {
    return [...this.nodes.values()].some((n) => n.job === jobId);
  }

  stats(): ExecutorStats {
    return {
      started: 0,
      reattempts: 0,
      succeeded: 0,
      failed: 0,
      cancelled: 0,
      rescaled: 0,
      superseded: 0,
      lost: 0,
      running: 0,
      firstStartAt: null,
      lastEndAt: null,
      busyHours: 0,
    };
  }

  private queue(pool: string): string[] {
    let queue = this.queues.get(pool);
    if (queue === undefined) this.queues.set(pool, (queue = []));
    return queue;
  }

  private pull(pool: string): void {
    const queue = this.queue(pool);
    for (const entry of this.nodes.values()) {
      if (queue.length === 0) return;
      if (entry.node.pool !== pool || entry.job !== null) continue;
      const job = queue.shift()!;
      entry.job = job;
      this.hooks.jobStarted(entry.node, job);
      this.onStart(job);
    }
  }
}

function config(): ProvisionerConfig {
  return loadConfig(
    { ...commonConfig, ...provisionerConfig },
    {
      // Read only by the service around the provider; nothing here connects to it.
      DATABASE_URL: 'postgres://127.0.0.1:5432/unused',
      ACAI_PROVIDERS: 'simulated',
      ACAI_SIM_SPEEDUP: String(SPEEDUP),
      ACAI_EC2_IDLE_TIMEOUT_MS: String(5 * 60_000),
      ACAI_EC2_MAX_INSTANCES: '20',
    },
  );
}

/**
 * Runs `jobs` Spot jobs on the simulated provider for `hours` of virtual time, with Spot
 * instances reclaimed `interruptionsPerHour` times per instance-hour. Answers, per job, the
 * longest virtual time it went without a node (from its placement or the loss of its node to the
 * start on the next), counting a wait that has not ended by the end of the simulation.
 */
async function longestWaits(options: {
  seed: number;
  jobs: number;
  hours: number;
  interruptionsPerHour: number;
}): Promise<{ waits: number[]; losses: number }> {
  const time = fakeTime();
  const clock = new VirtualClock({
    speedup: SPEEDUP,
    seed: options.seed,
    start: new Date('2026-03-01T12:00:00Z'),
    realTime: time.realTime,
  });
  const offers: Offer[] = [
    ...ec2Offers({ provider: 'simulated', bootSeconds: BOOT_MS / 1000 }),
    ...ec2Offers({
      provider: 'simulated',
      spot: true,
      bootSeconds: BOOT_MS / 1000,
      interruptionsPerHour: options.interruptionsPerHour,
    }),
  ];
  const waitingSince = new Map<string, number>();
  const longest = new Map<string, number>();
  let losses = 0;
  let executors!: ScriptedExecutors;
  const provider = new SimulatedProvider(() => offers, {
    config: config(),
    clock,
    executors: ({ hooks }) => {
      executors = new ScriptedExecutors(
        {
          ...hooks,
          jobLost: (node, jobId) => {
            losses += 1;
            waitingSince.set(jobId, clock.nowMs());
            hooks.jobLost(node, jobId);
          },
        },
        (jobId) => {
          const since = waitingSince.get(jobId)!;
          longest.set(jobId, Math.max(longest.get(jobId) ?? 0, clock.nowMs() - since));
          waitingSince.delete(jobId);
        },
      );
      return executors;
    },
  });
  await provider.start();
  const settle = async () => {
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  };
  const spot = offers.find((o) => o.name === 'c5.large' && o.spot)!;
  for (let i = 0; i < options.jobs; i++) {
    const jobId = `job-${i}`;
    waitingSince.set(jobId, clock.nowMs());
    const { pool } = await provider.place(spot, jobId);
    executors.submit(pool, jobId);
  }
  // A quarter of a tick at a time, letting every async step of the provider finish in between.
  const step = clock.realMs(TICK_MS / 4);
  for (let t = 0; t < clock.realMs(options.hours * HOUR); t += step) {
    time.advance(step);
    await settle();
  }
  for (const [jobId, since] of waitingSince) {
    longest.set(jobId, Math.max(longest.get(jobId) ?? 0, clock.nowMs() - since));
  }
  await provider.stop();
  return { waits: [...longest.values()], losses };
}

describe('the simulated provider', () => {
  it('gives a job whose Spot node was reclaimed a new node at once, whenever the loss comes', async () => {
    // One job at a time, so that nothing else that happens in the cloud (another loss, an idle
    // node reaped) can wake a job that was forgotten. Every seed loses the node at other moments
    // of the fleet's housekeeping cycle (it re-reads the cloud every few ticks): the job must get
    // its next node within a tick and a boot, whether or not the fleet re-read the cloud between.
    let losses = 0;
    const tooLong: { seed: number; longestWaitMs: number }[] = [];
    for (let seed = 1; seed <= 12; seed++) {
      const result = await longestWaits({ seed, jobs: 1, hours: 3, interruptionsPerHour: 6 });
      losses += result.losses;
      const longestWaitMs = Math.max(...result.waits);
      if (longestWaitMs > BOOT_MS + 2 * TICK_MS) tooLong.push({ seed, longestWaitMs });
    }
    expect(tooLong).toEqual([]);
    // The scenario is what it says: many losses over the seeds.
    expect(losses).toBeGreaterThan(100);
  });

  it('keeps eight Spot jobs running through frequent interruptions', async () => {
    const { waits, losses } = await longestWaits({
      seed: 7,
      jobs: 8,
      hours: 2,
      interruptionsPerHour: 6,
    });
    expect(losses).toBeGreaterThan(50);
    expect(waits).toHaveLength(8);
    for (const wait of waits) expect(wait).toBeLessThanOrEqual(BOOT_MS + 2 * TICK_MS);
  });
});
