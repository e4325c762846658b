import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { HistoryEntry, RunPlanView, RunView } from '@acai/contracts';
import { eventually } from '@acai/testkit';
import { startSystem, type TestSystem } from '../support/system.js';

// Run-level deadlines and budgets, through the gateway, on the simulated provider (virtual time,
// the catalogue's prices): what a job takes and costs is known exactly, so plans and budgets are
// deterministic. A job's work is ACAI_SIM_SECONDS on one c5 vCPU, 90 % of it parallel.

interface Problem {
  status: number;
  reason: string;
  detail: string;
  details?: { path: string; message: string }[];
  [extension: string]: unknown;
}

/** A step of the `train` profile: its size is ACAI_SIM_SECONDS, which the runtime model learns. */
const modelled = (name: string, seconds: number, needs: string[] = []) => ({
  name,
  command: ['train'],
  env: { ACAI_SIM_SECONDS: String(seconds) },
  needs,
  provision: { sizeParameters: ['ACAI_SIM_SECONDS'] },
});

/** etl → (small, big) → report: big is on the critical path. */
const DIAMOND = [
  modelled('etl', 120),
  modelled('small', 120, ['etl']),
  modelled('big', 1200, ['etl']),
  modelled('report', 60, ['small', 'big']),
];

describe('run deadlines, budgets and plans', () => {
  let system: TestSystem;

  beforeAll(async () => {
    system = await startSystem({
      env: {
        ACAI_PROVIDERS: 'simulated',
        // A virtual minute is 100 ms.
        ACAI_SIM_SPEEDUP: '600',
        ACAI_SIM_SEED: '11',
        ACAI_EC2_MAX_INSTANCES: '20',
        // No Spot losses: every job takes exactly its modelled time.
        ACAI_SIM_SPOT_INTERRUPTIONS_PER_HOUR: '0',
        ACAI_SIM_HEARTBEAT_MS: '0',
      },
      without: ['executor'],
    });
    // The profile's runtime model: profiling runs at 60 and 120 s of work, then the job itself.
    const learn = await system.api('POST', '/api/v1/runs', {
      name: 'learn',
      steps: [
        {
          name: 'train',
          command: ['train'],
          env: { ACAI_SIM_SECONDS: '240' },
          provision: { profile: { ACAI_SIM_SECONDS: ['60', '120'] } },
        },
      ],
    });
    expect(learn.status).toBe(202);
    const run = await system.waitForRun((learn.body as { id: string }).id, undefined, 60_000);
    expect(run.status).toBe('succeeded');
  });

  afterAll(async () => {
    await system?.close();
  });

  const plan = async (spec: Record<string, unknown>, key?: string) => {
    const response = await system.api('POST', '/api/v1/runs/plan', spec, key);
    expect(response.status).toBe(200);
    return response.body as RunPlanView;
  };

  it('plans a multi-step run: per step a configuration, time, cost, start and finish, following the DAG', async () => {
    const body = await eventually('the runtime model to be learnt', async () => {
      const p = await plan({ name: 'diamond', steps: DIAMOND, deadline: '2h', budget: 1 });
      return p.complete ? p : undefined;
    });
    const step = (name: string) => body.steps.find((s) => s.name === name)!;
    expect(body.steps.map((s) => s.basis)).toEqual(['model', 'model', 'model', 'model']);
    for (const s of body.steps) {
      expect(s.configuration).not.toBeNull();
      expect(s.predictedSeconds).toBeGreaterThan(0);
      expect(s.predictedCost).toBeGreaterThan(0);
      expect(s.share!.maxSeconds).toBeGreaterThan(0);
      expect(s.share!.maxCost).toBeGreaterThan(0);
      expect(s.share!.reason).toContain(`step '${s.name}'`);
    }
    // A step starts when the steps it needs finish; the report waits for the longer branch. Which
    // branch that is depends on the configurations chosen: the small step takes the cheapest that
    // fits its share, which may be as long as the big one's branch (its share is that branch's).
    expect(step('small').start).toBe(step('etl').finish);
    expect(step('big').start).toBe(step('etl').finish);
    const longer = [step('small'), step('big')].reduce((a, b) =>
      Date.parse(b.finish!) > Date.parse(a.finish!) ? b : a,
    );
    expect(step('report').start).toBe(longer.finish);
    // The critical path is of the work (each step at its fastest): the big branch, whatever the
    // configurations chosen.
    expect(body.criticalPath).toEqual(['etl', 'big', 'report']);
    expect(body.predictedFinish).toBe(step('report').finish);
    expect(body.predictedCost).toBeCloseTo(
      body.steps.reduce((sum, s) => sum + s.predictedCost!, 0),
      10,
    );
    expect(body.deadline!.holds).toBe(true);
    expect(body.budget).toMatchObject({ amount: 1, holds: true });
    expect(body.summary).toContain('the deadline holds');

    // The same spec in YAML plans the same.
    const yaml = [
      'name: diamond',
      'deadline: 2h',
      'budget: 1',
      'steps:',
      ...DIAMOND.map(
        (s) =>
          `  - { name: ${s.name}, command: [train], env: { ACAI_SIM_SECONDS: "${s.env.ACAI_SIM_SECONDS}" }, needs: [${s.needs.join(', ')}], provision: { sizeParameters: [ACAI_SIM_SECONDS] } }`,
      ),
    ].join('\n');
    const fromYaml = await fetch(`${system.gatewayUrl}/api/v1/runs/plan`, {
      method: 'POST',
      headers: { authorization: `Bearer ${system.key}`, 'content-type': 'application/yaml' },
      body: yaml,
    });
    expect(fromYaml.status).toBe(200);
    const yamlPlan = (await fromYaml.json()) as RunPlanView;
    expect(yamlPlan.steps.map((s) => [s.name, s.configuration?.name, s.predictedCost])).toEqual(
      body.steps.map((s) => [s.name, s.configuration?.name, s.predictedCost]),
    );

    // A deadline no configuration meets: by how much, and that even the fastest plan would not.
    const tight = await plan({ name: 'diamond', steps: DIAMOND, deadline: 'PT30S' });
    expect(tight.deadline!.holds).toBe(false);
    expect(tight.deadline!.marginSeconds).toBeLessThan(0);
    expect(tight.summary).toMatch(/misses the deadline by/);

    // Nothing was submitted, and another project plans from its own models only (it has none).
    const other = await system.api('POST', '/api/v1/projects', { name: 'plan-stranger' });
    const theirs = await plan(
      { name: 'diamond', steps: DIAMOND },
      (other.body as { key: string }).key,
    );
    expect(theirs.complete).toBe(false);
    expect(theirs.steps.every((s) => s.basis === 'as-requested')).toBe(true);
    const runs = (await system.api('GET', '/api/v1/runs')).body as { items: { name: string }[] };
    expect(runs.items.map((r) => r.name)).not.toContain('diamond');
  });

  it('refuses at submit a deadline already past or a budget below the cheapest plan, with the estimate', async () => {
    const past = await system.api('POST', '/api/v1/runs', {
      name: 'too-late',
      steps: DIAMOND,
      deadline: '2020-01-01T00:00:00Z',
    });
    expect(past.status).toBe(422);
    const late = past.body as Problem;
    expect(late.reason).toBe('RUN_DEADLINE_PASSED');
    expect(late.detail).toContain('2020-01-01T00:00:00.000Z, passed');
    expect(late.deadline).toBe('2020-01-01T00:00:00.000Z');
    expect(late.predictedFinish).toEqual(expect.any(String));

    const poor = await system.api('POST', '/api/v1/runs', {
      name: 'too-poor',
      steps: DIAMOND,
      budget: 0.000001,
    });
    expect(poor.status).toBe(422);
    const refusal = poor.body as Problem;
    expect(refusal.reason).toBe('RUN_BUDGET_BELOW_CHEAPEST_PLAN');
    expect(refusal.budget).toBe(0.000001);
    expect(refusal.cheapestCost).toBeGreaterThan(0.000001);
    expect(refusal.predictedCost).toEqual(expect.any(Number));
    expect(refusal.detail).toContain('raise the budget to at least');
    expect(refusal.details!.map((d) => d.message)).toEqual(
      expect.arrayContaining([expect.stringContaining("step 'big' costs at least")]),
    );

    // A deadline that is no deadline is a 400 naming the field.
    const garbled = await system.api('POST', '/api/v1/runs', {
      name: 'garbled',
      steps: DIAMOND,
      deadline: 'tomorrow',
    });
    expect(garbled.status).toBe(400);
    expect((garbled.body as Problem).details![0]).toMatchObject({ path: 'deadline' });

    const runs = (await system.api('GET', '/api/v1/runs')).body as { items: { name: string }[] };
    expect(runs.items.map((r) => r.name)).not.toEqual(
      expect.arrayContaining(['too-late', 'too-poor', 'garbled']),
    );
  });

  it('runs a run with a generous deadline and budget, each step placed within its share, and shows them', async () => {
    const submitted = await system.api('POST', '/api/v1/runs', {
      name: 'generous',
      steps: DIAMOND,
      deadline: '2h',
      budget: 1,
    });
    expect(submitted.status).toBe(202);
    const { id, jobs } = submitted.body as { id: string; jobs: { id: string; name: string }[] };
    const accepted = (await system.api('GET', `/api/v1/runs/${id}`)).body as RunView;
    expect(accepted.limits).toMatchObject({ budget: 1, spent: 0, budgetExhausted: null });
    expect(accepted.limits!.predictedFinish).toEqual(expect.any(String));

    expect((await system.waitForRun(id, undefined, 60_000)).status).toBe('succeeded');
    const run = await eventually('every cost to be counted', async () => {
      const r = (await system.api('GET', `/api/v1/runs/${id}`)).body as RunView;
      return r.limits!.spent > 0 ? r : undefined;
    });
    const limits = run.limits!;
    expect(new Date(limits.deadline!).getTime()).toBeGreaterThan(Date.now());
    expect(limits.budget).toBe(1);
    expect(limits.spent).toBeGreaterThan(0);
    expect(limits.spent).toBeLessThan(1);
    expect(limits.predictedCost).toBeGreaterThan(0);

    // Each placement carries the step's share and why, and chose within it.
    const big = jobs.find((j) => j.name === 'big')!;
    const history = (await system.api('GET', `/api/v1/jobs/${big.id}/history`))
      .body as HistoryEntry[];
    const provisioned = history.find((e) => e.type === 'job.provisioned')!.data as {
      share: { maxSeconds: number; maxCost: number; reason: string };
      decision: { rule: string; success: boolean; predictedCost: number };
    };
    expect(provisioned.share.reason).toContain("step 'big': time:");
    expect(provisioned.decision.rule).toBe('cheapest-within-limits');
    expect(provisioned.decision.success).toBe(true);
    expect(provisioned.decision.predictedCost).toBeLessThanOrEqual(provisioned.share.maxCost);
  });

  it('stops a run whose budget runs out with budget_exhausted, and fails it with the reason', async () => {
    // Two steps pinned to c5.large ($0.085/h): nothing predicts them, so the least they could
    // cost is their boots, $0.0028; the first runs 330 s after its boot and costs over $0.0092,
    // past the budget.
    const pinned = (name: string, needs: string[] = []) => ({
      name,
      command: ['train'],
      env: { ACAI_SIM_SECONDS: '600' },
      needs,
      provision: { offer: 'c5.large' },
    });
    const submitted = await system.api('POST', '/api/v1/runs', {
      name: 'poor',
      steps: [pinned('first'), pinned('second', ['first'])],
      budget: 0.005,
    });
    expect(submitted.status).toBe(202);
    const { id, jobs } = submitted.body as { id: string; jobs: { id: string; name: string }[] };
    expect((await system.waitForRun(id, undefined, 60_000)).status).toBe('failed');

    const run = (await system.api('GET', `/api/v1/runs/${id}`)).body as RunView;
    expect(run.jobs.map((j) => [j.name, j.status])).toEqual([
      ['first', 'succeeded'],
      ['second', 'cancelled'],
    ]);
    // Spent: its 330 s of running, and the instance from its placement to the start there (the
    // 60 s boot, and however long the stack took to hand it the work), as the cloud bills them.
    const spent = run.limits!.spent;
    expect(spent).toBeGreaterThanOrEqual(((330 + 60) * 0.085) / 3600 - 1e-9);
    expect(run.limits!.budgetExhausted).toContain("budget exhausted: step 'second' costs at least");
    expect(run.limits!.budgetExhausted).toContain(
      `nothing of the $0.005 budget is left (it is $${(spent - 0.005).toFixed(5)} over): $${spent.toFixed(5)} spent`,
    );

    const second = jobs.find((j) => j.name === 'second')!;
    const history = (await system.api('GET', `/api/v1/jobs/${second.id}/history`))
      .body as HistoryEntry[];
    expect(history.map((e) => e.type)).toEqual(['job.cancelled']);
    expect(history[0]!.data).toMatchObject({ reason: "the run's budget is exhausted" });
  });
});
