import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { HistoryEntry, ProvisionDecision } from '@acai/contracts';
import { eventually } from '@acai/testkit';
import { startSystem, type RunBody, type TestSystem } from '../support/system.js';

/**
 * A job whose work grows with EPOCHS and runs on one thread: `EPOCHS` units of busy CPU of
 * 120 ms each (at one full core). On half a core it takes twice as long; more than one core does
 * not help it. It writes a result into its output folder.
 */
const WORKER = `
const fs = require('node:fs');
const path = require('node:path');
const epochs = Number(process.env.EPOCHS);
const started = process.cpuUsage();
for (let e = 1; e <= epochs; e++) {
  const until = process.cpuUsage(started).user / 1000 + 120;
  while (process.cpuUsage(started).user / 1000 < until) Math.sqrt(Math.random());
  console.log('##acai metric epoch=' + e + ' step=' + e);
}
fs.writeFileSync(path.join(process.env.ACAI_OUTPUT_RESULT, 'done.txt'), 'epochs=' + epochs);
`;

interface OffersBody {
  providers: string[];
  offers: {
    provider: string;
    name: string;
    vCpu: number;
    memoryMb: number;
    pricePerHour: number;
  }[];
  catalogue: { name: string; vCpu: number; pricePerHour: number }[];
  priceSource: string;
}

interface PlanBody {
  action: string;
  success: boolean;
  configuration: { name: string; vCpu: number } | null;
  expectedSeconds: number | null;
  expectedCost: number | null;
  rule: string;
  reason: string;
  model: { observations: number; mape: number | null; predictionMape: number | null } | null;
  alternatives: { offer: string; feasible: boolean; whyNot: string | null }[];
  profiling: { configurations: { name: string }[] } | null;
}

describe('provisioning', () => {
  let system: TestSystem;
  let script: string;

  beforeAll(async () => {
    system = await startSystem({
      env: {
        // A small, known set of local configurations: 0.5, 1 and 2 cores, two memory sizes.
        ACAI_LOCAL_CPUS: '2',
        ACAI_LOCAL_CPU_SIZES: '0.5,1,2',
        ACAI_LOCAL_MEMORY_SIZES_MB: '256,1024',
      },
    });
    script = path.join(system.shared, 'work.cjs');
    await writeFile(script, WORKER);
  });

  afterAll(async () => {
    await system?.close();
  });

  const step = (epochs: number, provision: Record<string, unknown>) => ({
    name: 'train',
    command: ['node', script],
    env: { EPOCHS: String(epochs) },
    resources: { memoryMb: 256 },
    outputs: [{ fileset: 'result' }],
    provision,
  });

  it('lists what can be had, priced by the catalogue', async () => {
    const response = await system.api('GET', '/api/v1/instance-types');
    expect(response.status).toBe(200);
    const body = response.body as OffersBody;
    expect(body.providers).toEqual(['local']);
    expect(body.offers.map((o) => o.name)).toEqual([
      'local-0.5cpu-256mb',
      'local-0.5cpu-1024mb',
      'local-1cpu-256mb',
      'local-1cpu-1024mb',
      'local-2cpu-256mb',
      'local-2cpu-1024mb',
    ]);
    // Twice the cores cost more, and memory costs something.
    const price = (name: string) => body.offers.find((o) => o.name === name)!.pricePerHour;
    expect(price('local-1cpu-256mb')).toBeGreaterThan(price('local-0.5cpu-256mb'));
    expect(price('local-0.5cpu-1024mb')).toBeGreaterThan(price('local-0.5cpu-256mb'));
    expect(body.catalogue.find((t) => t.name === 'c5.large')).toMatchObject({ vCpu: 2 });
    expect(body.priceSource).toContain('us-east-1');
  });

  it('lists the nodes running executors, from their heartbeats', async () => {
    const nodes = await eventually('the executor to report', async () => {
      const body = (await system.api('GET', '/api/v1/nodes')).body as {
        items: { provider: string; pool: string; slots: number; state: string }[];
      };
      return body.items.length > 0 ? body.items : undefined;
    });
    expect(nodes[0]).toMatchObject({ provider: 'local', pool: 'local', state: 'idle' });
    expect(nodes[0]!.slots).toBeGreaterThan(0);
  });

  it('shows a project only its own jobs on the nodes, and an admin every job', async () => {
    const keyOf = async (name: string) =>
      ((await system.api('POST', '/api/v1/projects', { name })).body as { key: string }).key;
    const owner = await keyOf('nodes-owner');
    const stranger = await keyOf('nodes-stranger');
    const submitted = await system.api(
      'POST',
      '/api/v1/runs',
      { name: 'busy', steps: [{ name: 'sleeper', command: ['sleep', '30'] }] },
      owner,
    );
    expect(submitted.status).toBe(202);
    const { id, jobs } = submitted.body as { id: string; jobs: { id: string }[] };
    const jobId = jobs[0]!.id;
    const jobsOnNodes = async (key: string) =>
      (
        (await system.api('GET', '/api/v1/nodes', undefined, key)).body as {
          items: { jobs: string[] }[];
        }
      ).items.flatMap((n) => n.jobs);

    await eventually('the owner to see its job on a node', async () =>
      (await jobsOnNodes(owner)).includes(jobId) ? true : undefined,
    );
    expect(await jobsOnNodes(stranger)).not.toContain(jobId);
    expect(await jobsOnNodes(system.key)).toContain(jobId);

    expect((await system.api('POST', `/api/v1/runs/${id}/cancel`, undefined, owner)).status).toBe(
      202,
    );
    await eventually('the run to end', async () => {
      const run = await system.api('GET', `/api/v1/runs/${id}`, undefined, owner);
      return (run.body as { status: string }).status === 'cancelled' ? true : undefined;
    });
  });

  it('rejects a run with a step no configuration can take, saying which and why', async () => {
    const before = (await system.api('GET', '/api/v1/runs')).body as { items: unknown[] };
    const response = await system.api('POST', '/api/v1/runs', {
      name: 'too-big',
      steps: [
        { name: 'small', command: ['true'] },
        { name: 'huge', command: ['true'], resources: { cpu: 64, memoryMb: 512 } },
      ],
    });
    expect(response.status).toBe(400);
    const error = (response.body as { error: { message: string; details: { path: string }[] } })
      .error;
    expect(error.message).toContain("Run rejected: step 'huge' cannot run anywhere");
    expect(error.message).toContain('64 CPU');
    expect(error.message).toContain('this machine, 2 CPU');
    expect(error.details[0]!.path).toBe('steps.1.resources');
    const after = (await system.api('GET', '/api/v1/runs')).body as { items: unknown[] };
    expect(after.items).toHaveLength(before.items.length);
  });

  it('profiles a new job on a few configurations, then chooses by deadline, and says why', async () => {
    const provision = { profile: { EPOCHS: ['1', '2'] }, maxSeconds: 60 };
    // Nothing is known yet: the plan says it would profile first, and where.
    const first = (await system.api('POST', '/api/v1/provision/plan', step(4, provision)))
      .body as PlanBody;
    expect(first.action).toBe('profile');
    expect(first.profiling!.configurations.map((c) => c.name)).toEqual([
      'local-0.5cpu-256mb',
      'local-1cpu-256mb',
      'local-2cpu-256mb',
    ]);

    const submitted = await system.api('POST', '/api/v1/runs', {
      name: 'auto',
      steps: [step(4, provision)],
    });
    expect(submitted.status).toBe(202);
    const { id: runId, jobs } = submitted.body as { id: string; jobs: { id: string }[] };
    const run = await system.waitForRun(runId);
    expect(run.status).toBe('succeeded');

    // The profiling run ran first: the grid at EPOCHS=1, then EPOCHS=2 on the largest, in turn.
    const runs = (await system.api('GET', '/api/v1/runs')).body as { items: RunBody[] };
    const profiling = runs.items.find((r) => r.name === 'profile-train')!;
    expect(profiling.status).toBe('succeeded');
    expect(profiling.jobs).toHaveLength(4);

    const history = (await system.api('GET', `/api/v1/jobs/${jobs[0]!.id}/history`))
      .body as HistoryEntry[];
    const provisioned = history.find((e) => e.type === 'job.provisioned')!.data as {
      reason: string;
      offer: { name: string; pricePerHour: number };
      decision: ProvisionDecision;
    };
    const decision = provisioned.decision;
    expect(decision.rule).toBe('cheapest-within-deadline');
    expect(decision.success).toBe(true);
    expect(decision.model!.observations).toBe(4);
    expect(decision.features).toEqual({ EPOCHS: 4 });
    expect(decision.predictedSeconds).toBeGreaterThan(0);
    expect(decision.alternatives.length).toBe(6);
    expect(decision.alternatives[0]!.offer).toBe(provisioned.offer.name);
    expect(provisioned.reason).toBe(decision.reason);
    expect(provisioned.reason).toContain(provisioned.offer.name);
    // How far to trust the prediction (each profiled run left out in turn), and that EPOCHS=4
    // lies beyond the profiled 1–2.
    expect(provisioned.reason).toMatch(/predicted [0-9.]+ s ± \d+%/);
    expect(provisioned.reason).toContain(
      'EPOCHS=4 is beyond what was measured (EPOCHS 1–2), so the prediction extrapolates',
    );
    // The single-threaded job gains nothing from 2 cores, so the cheapest in time is a small one.
    expect(provisioned.offer.name).not.toBe('local-2cpu-1024mb');

    // Only the real job saved its output; the profiling runs' outputs were scratch.
    const versions = (await system.api('GET', '/api/v1/versions?fileset=result')).body as {
      items: unknown[];
    };
    expect(versions.items).toHaveLength(1);

    // The model is learnt now: a plan answers at once, and keeps the deadline honest.
    const plan = await eventually('the model to know the finished job', async () => {
      const body = (await system.api('POST', '/api/v1/provision/plan', step(4, provision)))
        .body as PlanBody;
      return body.model?.observations === 5 ? body : undefined;
    });
    expect(plan.action).toBe('run');
    // The finished job's prediction was scored against what it took: the model's record.
    expect(plan.model!.predictionMape).toBeGreaterThanOrEqual(0);
    expect(plan.expectedSeconds).toBeGreaterThan(0);
    expect(plan.expectedCost).toBeGreaterThan(0);
    const tight = (
      await system.api(
        'POST',
        '/api/v1/provision/plan',
        step(40, { ...provision, maxSeconds: 0.5 }),
      )
    ).body as PlanBody;
    expect(tight.success).toBe(false);
    expect(tight.reason).toMatch(/deadline/);
    expect(tight.alternatives.every((a) => !a.feasible && a.whyNot !== null)).toBe(true);

    // Another project's model is its own: it learns nothing from this project's jobs (nor could
    // its jobs skew this one's), though the step is the same.
    const other = await system.api('POST', '/api/v1/projects', { name: 'other-team' });
    const otherKey = (other.body as { key: string }).key;
    const sized = { sizeParameters: ['EPOCHS'], maxSeconds: 60 };
    const ours = (await system.api('POST', '/api/v1/provision/plan', step(4, sized)))
      .body as PlanBody;
    expect(ours.model?.observations).toBe(5);
    const theirs = (await system.api('POST', '/api/v1/provision/plan', step(4, sized), otherKey))
      .body as PlanBody;
    expect(theirs.model?.observations ?? 0).toBe(0);
  });

  it('runs a step pinned to a configuration on exactly that one', async () => {
    const submitted = await system.api('POST', '/api/v1/runs', {
      name: 'pinned',
      steps: [step(1, { offer: 'local-1cpu-1024mb' })],
    });
    const { id: runId, jobs } = submitted.body as { id: string; jobs: { id: string }[] };
    expect((await system.waitForRun(runId)).status).toBe('succeeded');
    const history = (await system.api('GET', `/api/v1/jobs/${jobs[0]!.id}/history`))
      .body as HistoryEntry[];
    expect(history.find((e) => e.type === 'job.provisioned')!.data).toMatchObject({
      resources: { cpu: 1, memoryMb: 1024 },
      offer: { name: 'local-1cpu-1024mb' },
      decision: { rule: 'pinned' },
    });

    const pinnedNowhere = await system.api('POST', '/api/v1/runs', {
      name: 'pinned-nowhere',
      steps: [step(1, { offer: 'c5.large' })],
    });
    expect(pinnedNowhere.status).toBe(400);
    expect((pinnedNowhere.body as { error: { message: string } }).error.message).toContain(
      "Run rejected: step 'train' cannot run anywhere: No configuration named 'c5.large'",
    );

    const unknown = await system.api('POST', '/api/v1/provision/plan', {
      ...step(1, { offer: 'x9.huge' }),
    });
    expect(unknown.status).toBe(400);
    expect((unknown.body as { error: { message: string } }).error.message).toContain(
      "No configuration named 'x9.huge'",
    );
  });
});
