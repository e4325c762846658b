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

  it('reuses both steps of the same pipeline run again, with the first run’s versions', async () => {
    second = await run(spec());
    for (const step of ['make', 'use']) {
      const events = await history(idOf(second, step));
      expect(events.map((e) => e.type)).toEqual(['job.reused']);
      expect(outputsOf(events)).toEqual(outputsOf(await history(idOf(first, step))));
      expect(events[0]!.data['from']).toMatchObject({ jobId: idOf(first, step), runId: first.id });
    }
    expect(await system.client().getRun(second.id)).toMatchObject({
      reuse: { jobs: 2 },
      jobs: [
        { name: 'make', status: 'succeeded', reusedFrom: idOf(first, 'make') },
        { name: 'use', status: 'succeeded', reusedFrom: idOf(first, 'use') },
      ],
    });
    const why = await explain(idOf(second, 'make'));
    expect(why).toMatchObject({
      decision: 'reused',
      reusedFrom: idOf(first, 'make'),
      nearest: { jobId: idOf(first, 'make'), sameSignature: true, differences: [] },
    });
  });

  it('ends a reused job’s followed logs at once: it never ran, so no output will come', async () => {
    const started = Date.now();
    const followed: string[] = [];
    for await (const line of system.client().followJobLogs(idOf(second, 'make')))
      followed.push(line);
    expect(followed).toEqual([]);
    // Not the 5 s a follower waits for the end marker of a job that ended (npm run up follows
    // each job of a run, so a reused run of five steps took 25 s there).
    expect(Date.now() - started).toBeLessThan(2_000);
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
    const [version] = outputsOf(await history(idOf(first, 'make'))) as { version: number }[];
    const evicted = await system.client().evictVersion('reuse-data', version!.version);
    expect(evicted).toMatchObject({ version: version!.version });
    // The newest result with version 1's signature is now the `reuse: never` run's (a version of
    // its own): it is taken. Evict that too, so that only evicted results are left.
    const again = await run(spec());
    const why = await explain(idOf(again, 'make'));
    expect(why.decision).toBe('reused');
    const taken = outputsOf(await history(idOf(again, 'make'))) as { version: number }[];
    expect(await system.client().evictVersion('reuse-data', taken[0]!.version)).toMatchObject({
      version: taken[0]!.version,
    });
    const last = await run(spec());
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
});
