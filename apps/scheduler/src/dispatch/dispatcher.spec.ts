import { beforeEach, describe, expect, it } from '@jest/globals';
import { JOB, type NewEvent, type NodeHeartbeat } from '@acai/contracts';
import { silentLogger, type NodeHeartbeats } from '@acai/eventing';
import { InMemoryEventLog } from '@acai/eventing/testing';
import { dispatchQueueProjection, type DispatchQueueEntry } from '@acai/runs';
import { JobRepository } from '../runs/job.repository.js';
import type {
  DispatchCandidate,
  DispatchQueue,
  DispatchQueueView,
  RunOut,
  WaitingGroup,
} from './dispatch-queue.repository.js';
import { Dispatcher } from './dispatcher.js';
import { PoolCapacity, START_GRACE_MS } from './pool-capacity.js';

/** Heartbeats handed over by the test. */
class FakeHeartbeats implements NodeHeartbeats {
  private handler: ((heartbeat: NodeHeartbeat) => void) | undefined;
  onHeartbeat(handler: (heartbeat: NodeHeartbeat) => void): { stop(): void } {
    this.handler = handler;
    return { stop: () => (this.handler = undefined) };
  }
  beat(id: string, slots: number, provider = 'local'): void {
    this.handler?.({
      id,
      pool: 'local',
      provider,
      instanceType: null,
      cpu: slots,
      memoryMb: 4096,
      slots,
      busy: 0,
      jobs: [],
      projects: {},
      startedAt: new Date().toISOString(),
      limits: 'none',
    });
  }
}

/**
 * The read model folded from the whole log at each read (always caught up), and one pass at a time
 * (a queue of passes), as SqlDispatchQueue has one replica pass at a time with Postgres.
 */
class InMemoryDispatchQueue implements DispatchQueue {
  private lock: Promise<unknown> = Promise.resolve();
  constructor(private readonly log: InMemoryEventLog) {}

  docs(): DispatchQueueEntry[] {
    const docs = new Map<string, DispatchQueueEntry>();
    for (const event of this.log.all()) {
      for (const key of dispatchQueueProjection.keys(event)) {
        const next = dispatchQueueProjection.evolve(docs.get(key), event, key);
        if (next === undefined) docs.delete(key);
        else docs.set(key, next);
      }
    }
    return [...docs.values()];
  }

  pass<T>(pass: (view: DispatchQueueView) => Promise<T>): Promise<T> {
    const run = this.lock.then(() => pass(this.view()));
    this.lock = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {}

  private view(): DispatchQueueView {
    return {
      state: async () => {
        const out = new Map<string, RunOut>();
        for (const d of this.docs()) {
          if (d.state !== 'out' || d.pool === null) continue;
          const key = [d.pool, d.project, d.runId].join('\u0000');
          const o = out.get(key);
          out.set(key, {
            pool: d.pool,
            project: d.project,
            runId: d.runId,
            jobs: (o?.jobs ?? 0) + 1,
            maxParallel: d.maxParallel,
          });
        }
        const groups = new Map<string, WaitingGroup>();
        for (const d of this.docs()) {
          if (d.state !== 'waiting' || d.pool === null) continue;
          groups.set(`${d.pool}\u0000${d.project}`, {
            pool: d.pool,
            project: d.project,
            provider: d.provider,
          });
        }
        return { out: [...out.values()], groups: [...groups.values()] };
      },
      candidates: async (groups, perProject, passOver) => {
        const taken = new Map<string, number>();
        return this.waiting()
          .filter((w) => groups.some((g) => g.pool === w.pool && g.project === w.project))
          .filter((w) => !passOver.includes(w.runId ?? ''))
          .filter((w) => {
            const key = `${w.pool}\u0000${w.project}`;
            taken.set(key, (taken.get(key) ?? 0) + 1);
            return taken.get(key)! <= perProject;
          });
      },
      waitingCounts: async () => {
        const counts = new Map<string, { pool: string; project: string; jobs: number }>();
        for (const w of this.waiting()) {
          const key = `${w.pool}\u0000${w.project}`;
          counts.set(key, {
            pool: w.pool,
            project: w.project,
            jobs: (counts.get(key)?.jobs ?? 0) + 1,
          });
        }
        return [...counts.values()];
      },
    };
  }

  /** The waiting jobs, in each project's turn. */
  private waiting(): DispatchCandidate[] {
    return this.docs()
      .filter((d) => d.state === 'waiting' && d.pool !== null)
      .map((d): DispatchCandidate => ({
        project: d.project,
        jobId: d.jobId,
        runId: d.runId,
        pool: d.pool!,
        priority: d.priority,
        maxParallel: d.maxParallel,
        placedSeq: d.placedSeq!,
        placedBy: d.placedBy,
      }))
      .sort((a, b) => b.priority - a.priority || a.placedSeq - b.placedSeq);
  }
}

describe('the dispatcher', () => {
  let log: InMemoryEventLog;
  let queue: InMemoryDispatchQueue;
  let heartbeats: FakeHeartbeats;
  let now: number;
  const dispatchers: Dispatcher[] = [];

  beforeEach(() => {
    log = new InMemoryEventLog('scheduler');
    queue = new InMemoryDispatchQueue(log);
    heartbeats = new FakeHeartbeats();
    now = Date.now();
  });

  /** A dispatcher as a replica has one: its own job cache and its own ear for heartbeats. */
  function dispatcher(prefetch = 1): Dispatcher {
    const d = new Dispatcher({
      queue,
      jobs: new JobRepository(log),
      capacity: new PoolCapacity(heartbeats, () => now),
      prefetch,
      applied: async () => true,
      logger: silentLogger,
      passEveryMs: 60_000,
    });
    dispatchers.push(d);
    return d;
  }

  async function stopAll(): Promise<void> {
    for (const d of dispatchers.splice(0)) await d.stop();
  }

  /** `n` jobs of a run, queued and placed by the provisioner, one after another. */
  async function place(project: string, runId: string, n: number, more: object = {}) {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const id = `${runId}-${i}`;
      const events: NewEvent[] = [
        {
          type: 'job.queued',
          data: {
            runId,
            name: `s${i}`,
            command: ['true'],
            env: {},
            resources: { cpu: 1, memoryMb: 512 },
            inputs: [],
            outputs: [],
            timeoutSeconds: null,
            provision: null,
            network: 'default',
            secrets: {},
            retries: null,
            ...more,
          },
        },
        {
          type: 'job.provisioned',
          data: {
            provider: 'local',
            pool: 'local',
            resources: { cpu: 1, memoryMb: 512 },
            reason: 'as requested',
            offer: null,
            decision: null,
          },
        },
      ];
      await log.seed({ project, aggregate: JOB, id }, events, runId);
      ids.push(id);
    }
    return ids;
  }

  /** An executor ran the job to its end. */
  async function finish(project: string, jobId: string): Promise<void> {
    await log.seed({ project, aggregate: JOB, id: jobId }, [
      { type: 'job.started', data: { executor: 'n', attempt: 1, pid: 1 } },
      { type: 'job.succeeded', data: { exitCode: 0, durationMs: 1, outputs: [], attempt: 1 } },
    ]);
  }

  const dispatched = () => log.ofType('job.dispatched').map((e) => e.aggregateId);

  it('dispatches up to the pool’s slots plus the prefetch, then one more per job that ends, to the project with fewest out', async () => {
    const d = dispatcher();
    d.start();
    heartbeats.beat('node-a', 2);
    const a = await place('alpha', 'run-a', 10);
    await d.pass();
    expect(dispatched()).toEqual(a.slice(0, 3));
    const [b] = await place('beta', 'run-b', 1);
    await d.pass();
    expect(dispatched()).toHaveLength(3);
    await finish('alpha', a[0]!);
    await d.pass();
    // The causation of the dispatch is the placement, its correlation the run.
    expect(dispatched()).toEqual([...a.slice(0, 3), b]);
    const [dispatch] = log.ofType('job.dispatched').slice(-1);
    expect(dispatch?.correlationId).toBe('run-b');
    expect(dispatch?.causationId).toBe(
      log.ofType('job.provisioned').find((e) => e.aggregateId === b)!.id,
    );
    await stopAll();
  });

  it('logs a slow pass with where its time went: the lock, the read, the choice, the dispatches, the read model', async () => {
    const warned: { fields: object; msg: string | undefined }[] = [];
    const d = new Dispatcher({
      queue,
      jobs: new JobRepository(log),
      capacity: new PoolCapacity(heartbeats, () => now),
      prefetch: 1,
      applied: async () => true,
      logger: { ...silentLogger, warn: (fields, msg) => warned.push({ fields, msg }) },
      passEveryMs: 60_000,
      slowPassMs: 0,
    });
    dispatchers.push(d);
    heartbeats.beat('node-a', 1);
    await place('alpha', 'run-a', 2);
    await d.pass();
    const slow = warned.find((w) => w.msg?.startsWith('a dispatch pass was slow'));
    expect(slow?.fields).toEqual({
      ms: expect.any(Number),
      lockMs: expect.any(Number),
      stateMs: expect.any(Number),
      chooseMs: expect.any(Number),
      dispatchMs: expect.any(Number),
      appliedMs: expect.any(Number),
      released: 2,
    });
    await stopAll();
  });

  it('never over-releases when two replicas pass at the same moment', async () => {
    const one = dispatcher();
    const two = dispatcher();
    one.start();
    two.start();
    heartbeats.beat('node-a', 3);
    await place('alpha', 'run-a', 20);
    await Promise.all([one.pass(), two.pass(), one.pass(), two.pass()]);
    expect(dispatched()).toHaveLength(4);
    expect(new Set(dispatched()).size).toBe(4);
    await stopAll();
  });

  it('holds a run at its maxParallel and lets it go on as its jobs end', async () => {
    const d = dispatcher();
    d.start();
    heartbeats.beat('node-a', 8);
    const jobs = await place('alpha', 'run-a', 5, { maxParallel: 2 });
    await d.pass();
    expect(dispatched()).toEqual(jobs.slice(0, 2));
    await finish('alpha', jobs[1]!);
    await d.pass();
    expect(dispatched()).toEqual(jobs.slice(0, 3));
    await stopAll();
  });

  it('holds a local pool nobody has reported on for the start-up grace, then releases it all rather than wait for nothing', async () => {
    const d = dispatcher(0);
    d.start();
    await place('alpha', 'run-a', 5);
    await d.pass();
    expect(dispatched()).toEqual([]);
    now += START_GRACE_MS;
    await d.pass();
    expect(dispatched()).toHaveLength(5);
    await stopAll();
  });

  it('does not gate a pool of launched nodes (ec2, simulated): their heartbeats do not count', async () => {
    const d = dispatcher(0);
    d.start();
    heartbeats.beat('i-123', 1, 'simulated');
    now += START_GRACE_MS;
    await place('alpha', 'run-a', 4);
    await d.pass();
    expect(dispatched()).toHaveLength(4);
    await stopAll();
  });

  it('loses nothing when a replica dies before dispatching what it chose: the next pass does it', async () => {
    heartbeats.beat('node-a', 2);
    const jobs = await place('alpha', 'run-a', 3);
    // A replica read the model and died; nothing of its pass is in the log.
    const restarted = dispatcher();
    restarted.start();
    heartbeats.beat('node-a', 2);
    await restarted.pass();
    expect(dispatched()).toEqual(jobs);
    // A pass again changes nothing: dispatch is decided once per job.
    await restarted.pass();
    expect(dispatched()).toEqual(jobs);
    await stopAll();
  });
});
