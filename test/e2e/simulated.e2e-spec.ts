import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { EventData, HistoryEntry } from '@acai/contracts';
import { eventually } from '@acai/testkit';
import { startSystem, type RunBody, type TestSystem } from '../support/system.js';

// The simulated provider: the EC2 fleet on a simulated cloud and virtual clock, its nodes'
// executors in the provisioner's process. No executor service runs: every job below runs on a
// simulated node, through the same gateway, scheduler and provisioner as a real one.

interface NodeBody {
  id: string;
  provider: string;
  instanceType: string | null;
  pool: string;
  state: string;
  pricePerHour: number | null;
  cpu: number | null;
  jobs: string[];
  lastSeenAt: string | null;
  limits: string | null;
}

const MINUTE = 60_000;

type Step = {
  name: string;
  command: string[];
  env?: Record<string, string>;
  provision?: Record<string, unknown>;
};

const step = (name: string, offer: string, env: Record<string, string>): Step => ({
  name,
  command: ['train'],
  env,
  provision: { offer },
});

async function submit(system: TestSystem, name: string, steps: Step[]) {
  const submitted = await system.api('POST', '/api/v1/runs', { name, steps });
  expect(submitted.status).toBe(202);
  return submitted.body as { id: string; jobs: { id: string; name: string }[] };
}

async function history(system: TestSystem, jobId: string): Promise<HistoryEntry[]> {
  return (await system.api('GET', `/api/v1/jobs/${jobId}/history`)).body as HistoryEntry[];
}

/** The stack on the simulated provider only, no executor service; `env` adds to its settings. */
function startSimulated(env: NodeJS.ProcessEnv): Promise<TestSystem> {
  return startSystem({
    env: {
      ACAI_PROVIDERS: 'simulated',
      // A virtual minute is 100 ms: boots take 100 ms, a 5-minute job half a second.
      ACAI_SIM_SPEEDUP: '600',
      ACAI_SIM_SEED: '7',
      ACAI_EC2_MAX_INSTANCES: '20',
      ACAI_EC2_IDLE_TIMEOUT_MS: String(5 * MINUTE),
      // The nodes list is the simulated cloud's own view (heartbeats are checked below).
      ACAI_SIM_HEARTBEAT_MS: '0',
      ...env,
    },
    without: ['executor'],
  });
}

async function nodes(system: TestSystem): Promise<NodeBody[]> {
  return ((await system.api('GET', '/api/v1/nodes')).body as { items: NodeBody[] }).items;
}

describe('the simulated provider', () => {
  let system: TestSystem;

  beforeAll(async () => {
    // Spot capacity is lost six times per instance-hour here (the catalogue assumes 0.01).
    system = await startSimulated({ ACAI_SIM_SPOT_INTERRUPTIONS_PER_HOUR: '6' });
  });

  afterAll(async () => {
    await system?.close();
  });

  it('offers the catalogue’s types, on-demand and Spot', async () => {
    const body = (await system.api('GET', '/api/v1/instance-types')).body as {
      providers: string[];
      offers: {
        provider: string;
        name: string;
        spot: boolean;
        pool: string;
        pricePerHour: number;
      }[];
    };
    expect(body.providers).toEqual(['simulated']);
    const onDemand = body.offers.find((o) => o.name === 'c5.large')!;
    const spot = body.offers.find((o) => o.name === 'c5.large:spot')!;
    expect(onDemand).toMatchObject({
      provider: 'simulated',
      spot: false,
      pool: 'simulated-c5-large',
    });
    expect(spot).toMatchObject({
      provider: 'simulated',
      spot: true,
      pool: 'simulated-c5-large-spot',
    });
    expect(spot.pricePerHour).toBeLessThan(onDemand.pricePerHour);
  });

  it('launches nodes for 50 jobs within its instance limit, runs them in virtual time, and terminates idle nodes', async () => {
    // 30 jobs on c5.large (2 vCPU) and 20 on m5.xlarge (4 vCPU), each 10 minutes of work on one
    // vCPU, 90 % of it parallel: 330 s on a c5.large, 195 s on an m5.xlarge.
    const work = { ACAI_SIM_SECONDS: '600', ACAI_SIM_PARALLEL: '0.9' };
    const steps = [
      ...Array.from({ length: 30 }, (_, i) => step(`c5-${i}`, 'c5.large', work)),
      ...Array.from({ length: 20 }, (_, i) => step(`m5-${i}`, 'm5.xlarge', work)),
    ];
    const { id: runId, jobs } = await submit(system, 'fifty', steps);
    expect(jobs).toHaveLength(50);

    // While it runs: simulated nodes, with their type and price, never more than the limit.
    const seen = new Map<string, NodeBody>();
    let most = 0;
    let run: RunBody | undefined;
    await eventually(
      'the run to end',
      async () => {
        const live = (await nodes(system)).filter((n) => n.state !== 'terminating');
        most = Math.max(most, live.length);
        for (const n of live) seen.set(n.id, n);
        const r = await system.api('GET', `/api/v1/runs/${runId}`);
        const body = r.body as RunBody;
        if (['succeeded', 'failed', 'cancelled'].includes(body.status)) run = body;
        return run;
      },
      60_000,
    );
    expect(run!.status).toBe('succeeded');
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(20);
    const c5 = [...seen.values()].find((n) => n.instanceType === 'c5.large')!;
    expect(c5).toMatchObject({
      provider: 'simulated',
      pool: 'simulated-c5-large',
      cpu: 2,
      pricePerHour: 0.085,
    });
    expect(c5.id).toMatch(/^i-[0-9a-f]{17}$/);

    // Every job succeeded on a node of the offer it was pinned to, in its modelled virtual time,
    // at its first attempt (no busy node was taken away).
    const executors = new Set<string>();
    for (const job of jobs) {
      const entries = await history(system, job.id);
      const provisioned = entries.find((e) => e.type === 'job.provisioned')!.data as {
        provider: string;
        pool: string;
      };
      const onC5 = job.name.startsWith('c5-');
      expect(provisioned).toMatchObject({
        provider: 'simulated',
        pool: onC5 ? 'simulated-c5-large' : 'simulated-m5-xlarge',
      });
      const started = entries.filter((e) => e.type === 'job.started');
      expect(started).toHaveLength(1);
      executors.add((started[0]!.data as { executor: string }).executor);
      expect(entries.at(-1)!.type).toBe('job.succeeded');
      expect((entries.at(-1)!.data as { durationMs: number }).durationMs).toBe(
        onC5 ? 330_000 : 195_000,
      );
    }
    // 50 jobs, at most 20 instances at once: nodes were reused, jobs waited for them (and idle
    // nodes of one type made room for the other).
    expect(executors.size).toBeLessThan(50);
    expect([...executors].every((id) => /^i-[0-9a-f]{17}$/.test(id))).toBe(true);

    // What the job printed, as its log says.
    const logs = await system.api('GET', `/api/v1/jobs/${jobs[0]!.id}/logs`);
    expect(logs.text).toContain('simulated: 5.5 min on c5.large');

    // Idle for five virtual minutes (half a second): every node is terminated.
    await eventually('the idle nodes to be terminated', async () => {
      const listed = await nodes(system);
      return listed.every((n) => n.state === 'terminating') ? listed : undefined;
    });
  });

  it('hands a job back when its Spot node is interrupted: a new attempt elsewhere, and the run succeeds', async () => {
    // 20 minutes of work, 11 on a c5.large: at six interruptions an hour, two in three attempts
    // are interrupted.
    const work = { ACAI_SIM_SECONDS: '1200' };
    const steps = Array.from({ length: 8 }, (_, i) => step(`spot-${i}`, 'c5.large:spot', work));
    const { id: runId, jobs } = await submit(system, 'spot', steps);
    const run = await eventually('the Spot run to end', () => system.waitForRun(runId), 60_000);
    expect(run.status).toBe('succeeded');

    const histories = await Promise.all(jobs.map((j) => history(system, j.id)));
    for (const entries of histories) {
      expect(entries.find((e) => e.type === 'job.provisioned')!.data).toMatchObject({
        provider: 'simulated',
        pool: 'simulated-c5-large-spot',
        offer: { name: 'c5.large:spot' },
      });
      expect(entries.at(-1)!.type).toBe('job.succeeded');
    }
    const retried = histories.filter((h) => h.filter((e) => e.type === 'job.started').length > 1);
    expect(retried.length).toBeGreaterThan(0);
    const attempts = retried[0]!.filter((e) => e.type === 'job.started').map((e) => e.data) as {
      executor: string;
      attempt: number;
    }[];
    expect(attempts.map((a) => a.attempt)).toEqual(attempts.map((_, i) => i + 1));
    // The lost node is gone: the next attempt ran on another.
    expect(attempts[1]!.executor).not.toBe(attempts[0]!.executor);
  });

  it('resumes a job whose Spot node is interrupted from its last checkpoint, reporting its progress as it goes', async () => {
    // 20 steps of a minute on one vCPU, a checkpoint every 2: an interrupted attempt loses at most
    // the steps after its last checkpoint.
    const work = {
      ACAI_SIM_SECONDS: '1200',
      ACAI_SIM_PARALLEL: '0',
      ACAI_SIM_STEPS: '20',
      ACAI_SIM_CHECKPOINT_EVERY: '2',
    };
    const steps = Array.from({ length: 8 }, (_, i) => step(`ckpt-${i}`, 'c5.large:spot', work));
    const { id: runId, jobs } = await submit(system, 'spot-checkpoints', steps);
    const run = await eventually('the run to end', () => system.waitForRun(runId), 60_000);
    expect(run.status).toBe('succeeded');

    let resumed = 0;
    for (const { id } of jobs) {
      const entries = await history(system, id);
      const series = (
        (await system.api('GET', `/api/v1/jobs/${id}/metrics`)).body as {
          series: Record<string, { attempt: number; step: number | null; value: number }[]>;
        }
      ).series;
      // Every attempt starts after the last checkpoint recorded before it started.
      let checkpoint = 0;
      for (const entry of entries) {
        if (entry.type === 'job.checkpointed') {
          const data = entry.data as { fileset: string; version: number; step: number };
          checkpoint = data.step;
          expect(data.fileset).toBe(`checkpoints-${id}`);
          // Each is a version of the job's checkpoint file set, made by the job.
          const version = await system.api(
            'GET',
            `/api/v1/filesets/${data.fileset}/versions/${data.version}`,
          );
          expect(version.status).toBe(200);
          expect(version.body).toMatchObject({
            metadata: { simulated: true, step: data.step },
            createdBy: { jobId: id },
          });
        }
        if (entry.type !== 'job.started') continue;
        const attempt = (entry.data as { attempt: number }).attempt;
        const first = (series['progress'] ?? []).find((p) => p.attempt === attempt);
        if (first !== undefined) expect(first.step).toBe(checkpoint + 1);
        if (attempt > 1 && checkpoint > 0) resumed += 1;
      }
      // Every step is reported, the last with the whole work done.
      const progress = series['progress'] ?? [];
      expect(new Set(progress.map((p) => p.step))).toEqual(
        new Set(Array.from({ length: 20 }, (_, i) => i + 1)),
      );
      expect(progress.at(-1)).toMatchObject({ step: 20, value: 1 });
    }
    expect(resumed).toBeGreaterThan(0);
  });

  it('refuses a simulated job whose checkpoints have no steps to follow', async () => {
    const { id: runId, jobs } = await submit(system, 'bad-checkpoints', [
      step('bad', 'c5.large', { ACAI_SIM_CHECKPOINT_EVERY: '2' }),
    ]);
    expect((await system.waitForRun(runId)).status).toBe('failed');
    const failed = (await history(system, jobs[0]!.id)).at(-1)!;
    expect((failed.data as { lastLines: string[] }).lastLines.join('\n')).toContain(
      'ACAI_SIM_CHECKPOINT_EVERY needs ACAI_SIM_STEPS',
    );
  });

  it('runs a step without provision as requested, on the cheapest simulated offer that fits', async () => {
    const { id: runId, jobs } = await submit(system, 'as-requested', [
      { name: 'plain', command: ['train'], env: { ACAI_SIM_SECONDS: '60' } },
    ]);
    expect((await system.waitForRun(runId)).status).toBe('succeeded');
    const entries = await history(system, jobs[0]!.id);
    const provisioned = entries.find((e) => e.type === 'job.provisioned')!.data as {
      provider: string;
      pool: string;
      offer: { name: string };
    };
    // The cheapest with 1 CPU and 512 MiB is a Spot t3.micro, whose vCPUs run at 10 %.
    expect(provisioned).toMatchObject({
      provider: 'simulated',
      pool: 'simulated-t3-micro-spot',
      offer: { name: 't3.micro:spot' },
    });
    expect(entries.at(-1)!.data).toMatchObject({ durationMs: 330_000 });
  });

  it('fails a job whose simulated attempt fails, with the reason and its last line', async () => {
    const { id: runId, jobs } = await submit(system, 'failing', [
      step('flaky', 'c5.large', { ACAI_SIM_SECONDS: '60', ACAI_SIM_FAIL_RATE: '1' }),
    ]);
    expect((await system.waitForRun(runId)).status).toBe('failed');
    const failed = (await history(system, jobs[0]!.id)).at(-1)!;
    expect(failed.type).toBe('job.failed');
    expect(failed.data).toMatchObject({ reason: 'nonzero_exit', exitCode: 1 });
    expect((failed.data as { lastLines: string[] }).lastLines[0]).toContain('ACAI_SIM_FAIL_RATE=1');
  });
});

describe('simulated nodes’ heartbeats', () => {
  let system: TestSystem;

  beforeAll(async () => {
    system = await startSystem({
      env: {
        ACAI_PROVIDERS: 'simulated',
        // A virtual minute per real second: the job below runs for a few real seconds.
        ACAI_SIM_SPEEDUP: '60',
        ACAI_SIM_HEARTBEAT_MS: '100',
      },
      without: ['executor'],
    });
  });

  afterAll(async () => {
    await system?.close();
  });

  it('list a busy node as its executor reports it', async () => {
    const { id: runId, jobs } = await submit(system, 'beat', [
      step('long', 'c5.large', { ACAI_SIM_SECONDS: '360' }),
    ]);
    const busy = await eventually('the node to report its job', async () =>
      (await nodes(system)).find((n) => n.lastSeenAt !== null && n.jobs.includes(jobs[0]!.id)),
    );
    expect(busy).toMatchObject({
      provider: 'simulated',
      instanceType: 'c5.large',
      pool: 'simulated-c5-large',
      state: 'busy',
      cpu: 2,
      pricePerHour: 0.085,
      limits: 'simulated',
    });
    expect((await system.waitForRun(runId)).status).toBe('succeeded');
  });
});

describe('the simulated provider, rescaling', () => {
  let system: TestSystem;

  beforeAll(async () => {
    // Spot capacity is lost only at the catalogue's rate (0.01 per instance-hour): a move is
    // judged on a job that keeps its node.
    system = await startSimulated({});
  });

  afterAll(async () => {
    await system?.close();
  });

  it('moves a job that overspends its budget to a cheaper type while it runs, resuming from its checkpoint', async () => {
    // An hour of work on one vCPU, 75 % parallel (as acai assumes), in 20 steps, run as requested
    // on 8 vCPU: the cheapest such type here is c5.2xlarge Spot ($0.14/h), 21 min and about
    // $0.048, over the run's $0.04; c5.xlarge Spot (4 vCPU) takes 26 min for about $0.03.
    const work = {
      ACAI_SIM_SECONDS: '3600',
      ACAI_SIM_PARALLEL: '0.75',
      ACAI_SIM_STEPS: '20',
      ACAI_SIM_CHECKPOINT_EVERY: '2',
    };
    // A step pinned to a type (`provision.offer`) would stay on it: this one is not.
    const submitted = await system.api('POST', '/api/v1/runs', {
      name: 'overspend',
      budget: 0.04,
      steps: [
        { name: 'train', command: ['train'], env: work, resources: { cpu: 8, memoryMb: 4096 } },
      ],
    });
    expect(submitted.status).toBe(202);
    const { id: runId, jobs } = submitted.body as { id: string; jobs: { id: string }[] };
    const run = await eventually('the run to end', () => system.waitForRun(runId), 120_000);
    expect(run.status).toBe('succeeded');

    const entries = await history(system, jobs[0]!.id);
    // The move made: the last asked before it (a Spot loss before a move voids its request, and
    // the next attempt, where it was, is judged again).
    const moved = entries.findIndex((e) => e.type === 'job.rescaled');
    expect(moved).toBeGreaterThan(0);
    const requested = entries.slice(0, moved).findLast((e) => e.type === 'job.rescale_requested')
      ?.data as EventData<'job.rescale_requested'> | undefined;
    expect(requested).toMatchObject({
      direction: 'down',
      maxCost: 0.04,
      from: { provider: 'simulated', name: 'c5.2xlarge:spot' },
      to: { provider: 'simulated' },
    });
    expect(requested!.from.predictedCost!).toBeGreaterThan(0.04);
    expect(requested!.to.predictedCost!).toBeLessThanOrEqual(0.04);
    expect(requested!.to.pricePerHour).toBeLessThan(requested!.from.pricePerHour);
    const rescaled = entries.find((e) => e.type === 'job.rescaled')?.data as
      EventData<'job.rescaled'> | undefined;
    expect(rescaled?.to.name).toBe(requested!.to.name);
    // Placed again there; the new attempt starts after the checkpoint the move took with it.
    const placed = entries
      .filter((e) => e.type === 'job.provisioned')
      .map((e) => (e.data as EventData<'job.provisioned'>).offer?.name);
    expect(placed.slice(0, 2)).toEqual(['c5.2xlarge:spot', requested!.to.name]);
    const series = (
      (await system.api('GET', `/api/v1/jobs/${jobs[0]!.id}/metrics`)).body as {
        series: Record<string, { attempt: number; step: number | null }[]>;
      }
    ).series;
    // Every attempt after the move starts after the checkpoint in effect when it started (the
    // move's first; a Spot loss there may make more attempts).
    let checkpoint = rescaled!.checkpoint?.step ?? 0;
    let checked = 0;
    for (const entry of entries.slice(moved)) {
      if (entry.type === 'job.checkpointed') checkpoint = (entry.data as { step: number }).step;
      if (entry.type !== 'job.started') continue;
      const attempt = (entry.data as { attempt: number }).attempt;
      const first = (series['progress'] ?? []).find((p) => p.attempt === attempt);
      if (first === undefined) continue;
      expect(first.step).toBe(checkpoint + 1);
      checked += 1;
    }
    expect(checked).toBeGreaterThan(0);
    expect(entries.at(-1)?.type).toBe('job.succeeded');
  });
});
