import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { RunSpecInput } from '@acai/sdk';
import { startSystem, type TestSystem } from '../support/system.js';

interface Submitted {
  id: string;
  jobs: { id: string; name: string }[];
}
interface HistoryEvent {
  type: string;
  data: Record<string, unknown>;
}

/**
 * Reuse of earlier results through the gateway, on the real stack: a pipeline run again is not
 * computed again (its jobs end `job.reused` with the first run's versions); a change to its code
 * changes its signature; `reuse: never`, an evicted output and another project all compute.
 */
describe('reuse of earlier results', () => {
  let system: TestSystem;
  let script: string;

  beforeAll(async () => {
    system = await startSystem();
    // The code lives outside the job's folder, readable by jobs: the scheduler hashes it.
    script = path.join(system.shared, 'make-data.sh');
    await writeScript('# version 1');
  });

  afterAll(async () => {
    await system?.close();
  });

  /**
   * `make` writes the time on purpose and is not marked `nondeterministic`: every time it is
   * computed its output has other bytes, which is how these tests tell a version taken from an
   * earlier job from one computed again (and why the step that reads a recomputed one computes
   * too). Marked nondeterministic, it would never be reused, which is what they test.
   */
  async function writeScript(comment: string): Promise<void> {
    await writeFile(
      script,
      `${comment}\nmkdir -p outputs/reuse-data\necho "$N $(date +%s%N)" > outputs/reuse-data/x\n`,
    );
    await chmod(script, 0o644);
  }

  const spec = (extra: Partial<RunSpecInput> = {}): RunSpecInput => ({
    name: 'reuse-pipeline',
    ...extra,
    steps: [
      {
        name: 'make',
        command: ['sh', script],
        env: { N: '7', OMP_NUM_THREADS: '2' },
        outputs: [{ fileset: 'reuse-data' }],
      },
      {
        name: 'use',
        command: [
          'sh',
          '-c',
          'mkdir -p outputs/reuse-out && cp inputs/reuse-data/x outputs/reuse-out/y',
        ],
        inputs: [{ step: 'make', output: 'reuse-data' }],
        outputs: [{ fileset: 'reuse-out' }],
      },
    ],
  });

  async function run(body: RunSpecInput, key?: string): Promise<Submitted> {
    const submitted = await system.client(key).submitRun(body);
    const done = await system.waitForRun(submitted.id, key);
    expect(done.status).toBe('succeeded');
    return submitted;
  }

  async function history(jobId: string, key?: string): Promise<HistoryEvent[]> {
    return (await system.client(key).getJobHistory(jobId)) as HistoryEvent[];
  }

  const explain = (jobId: string, key?: string) => system.client(key).explainReuse(jobId);

  const idOf = (s: Submitted, name: string) => s.jobs.find((j) => j.name === name)!.id;
  const outputsOf = (events: HistoryEvent[]) =>
    events.find((e) => e.type === 'job.succeeded' || e.type === 'job.reused')?.data['outputs'];

  let first: Submitted;
  let second: Submitted;

  it('computes a pipeline the first time, signing each job before it is queued', async () => {
    first = await run(spec());
    const make = await history(idOf(first, 'make'));
    expect(make.map((e) => e.type)).toContain('job.started');
    const queued = make.find((e) => e.type === 'job.queued')!.data as {
      signature: {
        sha256: string;
        parts: {
          code: { ref: string; role: string; sha256: string }[];
          parameters: Record<string, string>;
        };
      };
      reuse: { reason: string };
    };
    expect(queued.signature.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(queued.signature.parts.code).toEqual(
      expect.arrayContaining([expect.objectContaining({ ref: script, role: 'script' })]),
    );
    // Thread counts only size resources: not parameters.
    expect(queued.signature.parts.parameters).toEqual({ N: '7' });
    expect(queued.reuse.reason).toBe('no earlier job of the project had its signature');
  });

  async function reusePlan(body: RunSpecInput): Promise<{
    steps: { step: string; decision: string; reason: string; from: string | null }[];
  }> {
    const { reuse } = await system.client().planRun(body);
    expect(reuse).toBeDefined();
    return reuse!;
  }

  it('plans the same pipeline at once: the last step is taken, the step only it reads is not needed', async () => {
    const plan = await reusePlan(spec());
    expect(plan.steps).toEqual([
      {
        step: 'make',
        decision: 'not_needed',
        reason:
          "no step that runs needs its result ('use' takes an earlier result or is not needed either), so it is neither taken nor computed",
        from: idOf(first, 'make'),
      },
      {
        step: 'use',
        decision: 'reuse',
        reason: `job ${idOf(first, 'use')} had the same signature and its result is intact`,
        from: idOf(first, 'use'),
      },
    ]);
    // Asked to compute it again, the step it reads is taken instead.
    const never = spec();
    (never.steps[1] as Record<string, unknown>)['reuse'] = 'never';
    expect((await reusePlan(never)).steps.map((s) => [s.step, s.decision, s.reason])).toEqual([
      [
        'make',
        'reuse',
        `job ${idOf(first, 'make')} had the same signature and its result is intact`,
      ],
      ['use', 'compute', 'its step says reuse: never'],
    ]);
  });

  it('follows its plan when the same pipeline runs again: the last step takes the first run’s versions, the step only it reads is not run at all', async () => {
    second = await run(spec());
    const use = await history(idOf(second, 'use'));
    expect(use.map((e) => e.type)).toEqual(['job.reused']);
    expect(outputsOf(use)).toEqual(outputsOf(await history(idOf(first, 'use'))));
    expect(use[0]!.data['from']).toMatchObject({ jobId: idOf(first, 'use'), runId: first.id });
    expect(await explain(idOf(second, 'use'))).toMatchObject({
      decision: 'reused',
      reusedFrom: idOf(first, 'use'),
      nearest: { jobId: idOf(first, 'use'), sameSignature: true, differences: [] },
    });
    // It was signed with the version make's earlier job committed.
    const [made] = outputsOf(await history(idOf(first, 'make'))) as { version: number }[];
    expect(use[0]!.data['inputs']).toEqual([
      expect.objectContaining({ fileset: 'reuse-data', version: made!.version }),
    ]);
    const make = await history(idOf(second, 'make'));
    expect(make.map((e) => e.type)).toEqual(['job.skipped']);
    expect(make[0]!.data).toMatchObject({ notNeeded: { from: idOf(first, 'make') } });
    expect(await system.client().getRun(second.id)).toMatchObject({
      status: 'succeeded',
      reuse: { jobs: 1 },
      jobs: [
        { name: 'make', status: 'skipped', notNeeded: expect.stringMatching(/^not needed: /) },
        { name: 'use', status: 'succeeded', reusedFrom: idOf(first, 'use') },
      ],
    });
    expect(await system.client().getJob(idOf(second, 'make'))).toMatchObject({
      status: 'skipped',
      reason: 'not_needed',
      attempt: 0,
    });
    // "Why was it not reused?" says why it neither ran nor was taken.
    expect(await explain(idOf(second, 'make'))).toMatchObject({
      decision: 'not_needed',
      reason: expect.stringMatching(/^its run's reuse plan left it out: not needed: /),
      signature: null,
    });
  });

  it('ends the followed logs of a job that did not run (reused, or not needed) at once: no output will come', async () => {
    for (const step of ['use', 'make']) {
      const started = Date.now();
      const followed: string[] = [];
      for await (const line of system.client().followJobLogs(idOf(second, step)))
        followed.push(line);
      expect(followed).toEqual([]);
      // Not the 5 s a follower waits for the end marker of a job that ended (npm run up follows
      // each job of a run, so a reused run of five steps took 25 s there).
      expect(Date.now() - started).toBeLessThan(2_000);
    }
  });

  it('computes again when the code changed, and says what differed', async () => {
    await writeScript('# version 2');
    expect((await reusePlan(spec())).steps.map((s) => [s.step, s.decision, s.reason])).toEqual([
      ['make', 'compute', 'no earlier job of the project had its signature'],
      [
        'use',
        'when_ready',
        "it reads what 'make' computes in this run: whether an earlier result matches is known once it has committed it",
      ],
    ]);
    const third = await run(spec());
    const make = await history(idOf(third, 'make'));
    expect(make.map((e) => e.type)).toContain('job.started');
    const why = await explain(idOf(third, 'make'));
    expect(why.decision).toBe('computed');
    expect(why.nearest?.sameSignature).toBe(false);
    expect(why.nearest?.differences).toEqual([
      expect.objectContaining({ part: 'code', what: expect.stringContaining(`${script} changed`) }),
    ]);
    // Its output has other bytes, so the step that reads it computes too.
    expect((await history(idOf(third, 'use'))).map((e) => e.type)).toContain('job.started');
    await writeScript('# version 1');
  });

  it('computes a run that says reuse: never, saying so', async () => {
    const never = await run(spec({ reuse: 'never' }));
    const why = await explain(idOf(never, 'make'));
    expect(why).toMatchObject({ decision: 'computed', reason: 'its step says reuse: never' });
  });

  it('computes again when the earlier output was evicted', async () => {
    // The step that reads make's output computes, so make's own result is what is decided.
    const makeAlone = () => {
      const s = spec();
      (s.steps[1] as Record<string, unknown>)['reuse'] = 'never';
      return s;
    };
    const [version] = outputsOf(await history(idOf(first, 'make'))) as { version: number }[];
    const evicted = await system.client().evictVersion('reuse-data', version!.version);
    expect(evicted).toMatchObject({ version: version!.version });
    // The newest result with version 1's signature is now the `reuse: never` run's (a version of
    // its own): it is taken. Evict that too, so that only evicted results are left.
    const again = await run(makeAlone());
    const why = await explain(idOf(again, 'make'));
    expect(why.decision).toBe('reused');
    const taken = outputsOf(await history(idOf(again, 'make'))) as { version: number }[];
    expect(await system.client().evictVersion('reuse-data', taken[0]!.version)).toMatchObject({
      version: taken[0]!.version,
    });
    const last = await run(makeAlone());
    const whyNot = await explain(idOf(last, 'make'));
    expect(whyNot.decision).toBe('computed');
    expect(whyNot.reason).toMatch(/is not intact \(reuse-data@\d+: it was evicted/);
  });

  it('never reuses across projects', async () => {
    const { key: other } = await system.client().createProject('reuse-other');
    const theirs = await run(spec(), other);
    const make = await history(idOf(theirs, 'make'), other);
    expect(make.map((e) => e.type)).toContain('job.started');
    expect(await explain(idOf(theirs, 'make'), other)).toMatchObject({
      decision: 'computed',
      reason: 'no earlier job of the project had its signature',
      nearest: null,
    });
    // And project default cannot ask about the other project's job.
    await expect(explain(idOf(theirs, 'make'))).rejects.toMatchObject({ status: 404 });
  });

  it('reuses another project’s result only where that project shares its results, as a copy of its own', async () => {
    const project = async (name: string): Promise<string> => {
      const created = await system.api('POST', '/api/v1/projects', { name });
      expect(created.status).toBe(201);
      return (created.body as { key: string }).key;
    };
    const consumer = await project('reuse-consumer');
    const stranger = await project('reuse-stranger');
    // A pipeline of its own (another N): default computes it first.
    const pipeline = () => {
      const s = spec();
      return {
        ...s,
        steps: s.steps.map((step) =>
          step.name === 'make' ? { ...step, env: { ...step.env, N: '8' } } : step,
        ),
      };
    };
    const original = await run(pipeline());
    const made = outputsOf(await history(idOf(original, 'use'))) as { version: number }[];
    const bytes = await system.api(
      'GET',
      `/api/v1/filesets/reuse-out/versions/${made[0]!.version}/files/y`,
    );
    expect(bytes.status).toBe(200);

    // Only an admin key of default itself shares default's results; another project's key
    // does not see it.
    expect(
      (
        await system.api(
          'PUT',
          '/api/v1/projects/default/reuse-sharing',
          { with: ['reuse-consumer'] },
          consumer,
        )
      ).status,
    ).toBe(404);
    const shared = await system.api('PUT', '/api/v1/projects/default/reuse-sharing', {
      with: ['reuse-consumer'],
    });
    expect(shared.status).toBe(200);
    expect(shared.body).toEqual({ project: 'default', with: ['reuse-consumer'], sharedWithIt: [] });
    const seen = await system.api(
      'GET',
      '/api/v1/projects/reuse-consumer/reuse-sharing',
      undefined,
      consumer,
    );
    expect(seen.body).toMatchObject({ with: [], sharedWithIt: ['default'] });

    // Not shared with: the same steps are computed.
    const theirs = await run(pipeline(), stranger);
    expect(await explain(idOf(theirs, 'make'), stranger)).toMatchObject({ decision: 'computed' });

    // Shared with: both steps are reused from default, as versions of the consumer's own project
    // that its steps read and its keys can download.
    const mine = await run(pipeline(), consumer);
    for (const step of ['make', 'use']) {
      const events = await history(idOf(mine, step), consumer);
      expect(events.map((e) => e.type)).not.toContain('job.started');
      const reused = events.find((e) => e.type === 'job.reused')!.data as {
        from: { jobId: string };
        reason: string;
      };
      expect(reused.from.jobId).toBe(idOf(original, step));
      expect(reused.reason).toMatch(/of project 'default'.*copied into this project as/);
    }
    const copied = outputsOf(await history(idOf(mine, 'use'), consumer)) as { version: number }[];
    const read = await system.api(
      'GET',
      `/api/v1/filesets/reuse-out/versions/${copied[0]!.version}/files/y`,
      undefined,
      consumer,
    );
    expect(read.status).toBe(200);
    expect(read.text).toBe(bytes.text);
  });

  describe('a run follows its reuse plan: etl -> train -> evaluate', () => {
    const copy = (from: string, to: string) => [
      'sh',
      '-c',
      `mkdir -p outputs/${to} && cp inputs/${from}/* outputs/${to}/`,
    ];
    /** `gate`: a step evaluate waits for (it reads nothing of it), running `seconds`. */
    const pipeline = (gate?: number): RunSpecInput => ({
      name: 'plan-pipeline',
      steps: [
        ...(gate === undefined ? [] : [{ name: 'gate', command: ['sleep', String(gate)] }]),
        {
          name: 'etl',
          command: [
            'sh',
            '-c',
            'mkdir -p outputs/plan-data && echo "rows 1 2 3" > outputs/plan-data/d',
          ],
          outputs: [{ fileset: 'plan-data' }],
        },
        {
          name: 'train',
          command: copy('plan-data', 'plan-model'),
          inputs: [{ step: 'etl', output: 'plan-data' }],
          outputs: [{ fileset: 'plan-model' }],
        },
        {
          name: 'evaluate',
          command: copy('plan-model', 'plan-report'),
          inputs: [{ step: 'train', output: 'plan-model' }],
          outputs: [{ fileset: 'plan-report' }],
          ...(gate === undefined ? {} : { needs: ['gate'] }),
        },
      ],
    });
    const types = async (s: Submitted, step: string) =>
      (await history(idOf(s, step))).map((e) => e.type);

    let computed: Submitted;

    it('runs the pipeline again without loading or computing etl and train: only evaluate’s result is taken', async () => {
      computed = await run(pipeline());
      for (const step of ['etl', 'train', 'evaluate'])
        expect(await types(computed, step)).toContain('job.started');

      const again = await run(pipeline());
      // Neither run nor taken: no job of them was queued, dispatched or started.
      for (const step of ['etl', 'train'])
        expect(await types(again, step)).toEqual(['job.skipped']);
      expect(await types(again, 'evaluate')).toEqual(['job.reused']);
      const evaluate = await history(idOf(again, 'evaluate'));
      expect(outputsOf(evaluate)).toEqual(outputsOf(await history(idOf(computed, 'evaluate'))));
      expect(await system.client().getRun(again.id)).toMatchObject({
        status: 'succeeded',
        jobs: [
          { name: 'etl', status: 'skipped', notNeeded: expect.stringMatching(/^not needed: /) },
          { name: 'train', status: 'skipped', notNeeded: expect.stringMatching(/^not needed: /) },
          { name: 'evaluate', status: 'succeeded', reusedFrom: idOf(computed, 'evaluate') },
        ],
      });
      const timeline = await system.client().getRunTimeline(again.id);
      const summaries = timeline.items.map((i) => i.summary);
      expect(summaries[0]).toBe(
        "Run 'plan-pipeline' submitted: 3 jobs; reuse plan: 'etl', 'train' not needed (only steps that take earlier results read them); 'evaluate' to take earlier results",
      );
      expect(summaries).toContain("'etl' settled: not needed");
      expect(summaries.at(-1)).toBe('Run succeeded');
    });

    it('falls back when evaluate’s earlier result is evicted after the plan: train is needed after all and takes its own, evaluate computes, etl still never runs', async () => {
      const client = system.client();
      const submitted = await client.submitRun(pipeline(4));
      // The plan was made at submit; evaluate is ready only once gate has slept.
      const report = outputsOf(await history(idOf(computed, 'evaluate'))) as { version: number }[];
      await client.evictVersion('plan-report', report[0]!.version);
      const done = await system.waitForRun(submitted.id, undefined, 60_000);
      expect(done.status).toBe('succeeded');

      expect(await types(submitted, 'etl')).toEqual(['job.skipped']);
      expect(await types(submitted, 'train')).toEqual(['job.reused']);
      expect(await types(submitted, 'evaluate')).toContain('job.started');
      const timeline = await client.getRunTimeline(submitted.id);
      const revised = timeline.items.filter((i) => i.type === 'run.reuse_plan_revised');
      expect(revised).toEqual([
        expect.objectContaining({
          jobId: idOf(submitted, 'train'),
          summary: expect.stringMatching(
            /^'train' needed after all: 'evaluate' computes instead of taking an earlier result, so 'train' runs \(or takes its own\) first: .*is not intact \(plan-report@\d+: it was evicted/,
          ),
        }),
      ]);
    });
  });
});
