import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { eventually, sharedWithJobs } from '@acai/testkit';
import { startSystem, type TestSystem } from '../support/system.js';

interface Submitted {
  id: string;
  jobs: { id: string; name: string }[];
}
interface HistoryEvent {
  seq: number;
  type: string;
  time: string;
  data: Record<string, unknown>;
}
interface Problem {
  status: number;
  detail: string;
  details?: { path?: string; message: string }[];
}

/**
 * The run spec's newer parts through the gateway on the real stack: YAML, retries, skipped steps
 * and continueOnFailure, and inputs that are another step's output.
 */
describe('the run spec', () => {
  let system: TestSystem;
  const folders: string[] = [];

  beforeAll(async () => {
    system = await startSystem();
  });

  afterAll(async () => {
    await system?.close();
    for (const folder of folders) await rm(folder, { recursive: true, force: true });
  });

  async function shared(prefix: string): Promise<string> {
    const folder = await sharedWithJobs(prefix, { writable: true });
    folders.push(folder);
    return folder;
  }

  async function postYaml(
    text: string,
    contentType = 'application/yaml',
    pathname = '/api/v1/runs',
  ): Promise<{ status: number; body: unknown }> {
    const response = await fetch(`${system.gatewayUrl}${pathname}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${system.key}`, 'content-type': contentType },
      body: text,
    });
    return { status: response.status, body: await response.json() };
  }

  async function history(jobId: string): Promise<HistoryEvent[]> {
    const r = await system.api('GET', `/api/v1/jobs/${jobId}/history`);
    expect(r.status).toBe(200);
    return r.body as HistoryEvent[];
  }

  async function submit(spec: unknown): Promise<Submitted> {
    const r = await system.api('POST', '/api/v1/runs', spec);
    expect(r.status).toBe(202);
    return r.body as Submitted;
  }

  describe('as YAML', () => {
    it('runs a spec sent as application/yaml as it would the same spec in JSON', async () => {
      const yaml = [
        'name: from-yaml',
        'steps:',
        '  - name: second',
        '    command: [sh, -c, echo "$WORD from yaml"]',
        '    needs: [first]',
        '    env: { WORD: on }', // YAML 1.2: `on` is a string, not true
        '  - name: first',
        '    command: ["true"]',
      ].join('\n');
      const submitted = await postYaml(yaml);
      expect(submitted.status).toBe(202);
      const { id, jobs } = submitted.body as Submitted;
      expect(jobs.map((j) => j.name)).toEqual(['first', 'second']);
      const run = await system.waitForRun(id);
      expect(run.status).toBe('succeeded');
      const logs = await system.api('GET', `/api/v1/jobs/${jobs[1]!.id}/logs`);
      expect(logs.text).toBe('on from yaml\n');

      const asText = await postYaml(
        'name: text-yaml\nsteps: [{ name: only, command: ["true"] }]',
        'text/yaml',
      );
      expect(asText.status).toBe(202);
    });

    it('refuses an invalid spec with a 400 naming the step and the field, in YAML as in JSON', async () => {
      const yaml = [
        'name: bad',
        'steps:',
        '  - name: fine',
        '    command: ["true"]',
        '  - name: train',
        '    command: ["true"]',
        '    retries: { max: 100, on: [sometimes] }',
      ].join('\n');
      const refused = await postYaml(yaml);
      expect(refused.status).toBe(400);
      const problem = refused.body as Problem;
      expect(problem.details).toEqual([
        { path: 'steps.1.retries.max', message: "step 'train': retries.max is at most 20" },
        { path: 'steps.1.retries.on.0', message: expect.stringContaining("step 'train': ") },
      ]);
      expect(problem.detail).toContain('steps.1.retries.max');

      const json = await system.api('POST', '/api/v1/runs', {
        name: 'bad',
        steps: [
          { name: 'etl', command: ['true'], outputs: [{ fileset: 'data' }] },
          { name: 'train', command: ['true'], inputs: [{ step: 'etl', output: 'model' }] },
        ],
      });
      expect(json.status).toBe(400);
      expect((json.body as Problem).details).toEqual([
        {
          path: 'steps.1.inputs.0.output',
          message:
            "step 'train' takes output 'model' of step 'etl', which saves no such output (its outputs: data)",
        },
      ]);
    });

    it('answers 400 for a body that is not YAML, and 415 for YAML sent to another route', async () => {
      const broken = await postYaml('name: x\nsteps: [\n  - {');
      expect(broken.status).toBe(400);
      expect((broken.body as Problem).detail).toMatch(
        /^The body is not valid YAML \(line \d+, column \d+\)/,
      );

      const elsewhere = await postYaml('name: data', 'application/yaml', '/api/v1/filesets');
      expect(elsewhere.status).toBe(415);
    });

    it('documents the YAML body and the run spec schema in the OpenAPI document', async () => {
      const doc = (await system.api('GET', '/api/openapi.json', undefined, null)).body as {
        paths: Record<string, { post?: { requestBody?: { content: Record<string, unknown> } } }>;
      };
      const content = doc.paths['/api/v1/runs']!.post!.requestBody!.content;
      expect(Object.keys(content).sort()).toEqual([
        'application/json',
        'application/yaml',
        'text/yaml',
      ]);
      expect(content['application/yaml']).toEqual(content['application/json']);
    });
  });

  describe('retries', () => {
    it('runs a step that failed with exit 1 again, as attempt 2 of the same job, after its backoff, when it retries nonzero_exit', async () => {
      const marks = await shared('acai-retry-');
      const marker = path.join(marks, 'tried');
      const { id, jobs } = await submit({
        name: 'flaky',
        steps: [
          {
            name: 'flaky',
            // The first attempt leaves a marker and fails; the one after finds it and succeeds.
            command: [
              'sh',
              '-c',
              'if [ -e "$MARK" ]; then echo "attempt $ACAI_ATTEMPT: marker found"; exit 0; fi; touch "$MARK"; echo "attempt $ACAI_ATTEMPT: failing"; exit 1',
            ],
            env: { MARK: marker },
            retries: { max: 2, backoffSeconds: 1, on: ['nonzero_exit'] },
          },
        ],
      });
      const run = await system.waitForRun(id, undefined, 60_000);
      expect(run.status).toBe('succeeded');

      const events = await history(jobs[0]!.id);
      expect(events.map((e) => e.type)).toEqual([
        'job.queued',
        'job.provisioned',
        'job.dispatched',
        'job.started',
        'job.retry_scheduled',
        'job.requeued',
        'job.provisioned',
        'job.dispatched',
        'job.started',
        'job.succeeded',
      ]);
      const retry = events.find((e) => e.type === 'job.retry_scheduled')!;
      expect(retry.data).toMatchObject({
        retry: 1,
        attempt: 1,
        reason: 'nonzero_exit',
        exitCode: 1,
        delayMs: 1000,
      });
      const requeued = events.find((e) => e.type === 'job.requeued')!;
      expect(Date.parse(requeued.time) - Date.parse(retry.time)).toBeGreaterThanOrEqual(1000);
      expect(events.filter((e) => e.type === 'job.started').map((e) => e.data['attempt'])).toEqual([
        1, 2,
      ]);
      expect(events.at(-1)!.data['attempt']).toBe(2);
      const job = (await system.api('GET', `/api/v1/jobs/${jobs[0]!.id}`)).body as {
        status: string;
        attempt: number;
      };
      expect([job.status, job.attempt]).toEqual(['succeeded', 2]);
      // Both attempts' output, the first without an end: a follower stays until the job ends.
      const logs = await system.api('GET', `/api/v1/jobs/${jobs[0]!.id}/logs?follow=true`);
      expect(logs.text).toBe('attempt 1: failing\nattempt 2: marker found\n');
    });

    it('waits out a retry’s backoff across a scheduler restart, neither sooner nor twice', async () => {
      const marks = await shared('acai-retry-restart-');
      const { id, jobs } = await submit({
        name: 'flaky-restart',
        steps: [
          {
            name: 'flaky',
            command: ['sh', '-c', 'if [ -e "$MARK" ]; then exit 0; fi; touch "$MARK"; exit 1'],
            env: { MARK: path.join(marks, 'tried') },
            retries: { max: 1, backoffSeconds: 3, on: ['nonzero_exit'] },
          },
        ],
      });
      const jobId = jobs[0]!.id;
      await eventually('the retry to be scheduled', async () =>
        (await history(jobId)).find((e) => e.type === 'job.retry_scheduled'),
      );
      // The scheduler goes away while the job waits, and comes back before it is due.
      await system.stop('scheduler');
      await new Promise((r) => setTimeout(r, 500));
      await system.start('scheduler');

      const run = await system.waitForRun(id, undefined, 60_000);
      expect(run.status).toBe('succeeded');
      const events = await history(jobId);
      const retry = events.find((e) => e.type === 'job.retry_scheduled')!;
      const requeued = events.filter((e) => e.type === 'job.requeued');
      expect(requeued).toHaveLength(1);
      expect(Date.parse(requeued[0]!.time) - Date.parse(retry.time)).toBeGreaterThanOrEqual(3000);
      expect(events.filter((e) => e.type === 'job.started')).toHaveLength(2);
    });

    it('never retries nonzero_exit unless the step lists it, and fails for good once max retries are spent', async () => {
      const { id, jobs } = await submit({
        name: 'no-retry',
        steps: [
          // Default `on`: executor_lost and no_resources only.
          { name: 'default', command: ['sh', '-c', 'exit 1'], retries: { max: 3 } },
          {
            name: 'spent',
            command: ['sh', '-c', 'exit 3'],
            retries: { max: 1, backoffSeconds: 0, on: ['nonzero_exit'] },
          },
        ],
      });
      const run = await system.waitForRun(id, undefined, 60_000);
      expect(run.status).toBe('failed');
      expect((await history(jobs[0]!.id)).map((e) => e.type)).not.toContain('job.retry_scheduled');
      const spent = await history(jobs[1]!.id);
      expect(spent.filter((e) => e.type === 'job.retry_scheduled')).toHaveLength(1);
      expect(spent.at(-1)).toMatchObject({
        type: 'job.failed',
        data: { reason: 'nonzero_exit', exitCode: 3, attempt: 2 },
      });
    });
  });

  describe('skipped steps', () => {
    it('skips a step whose need failed, naming it, runs the one that continues on failure, and fails the run', async () => {
      const { id, jobs } = await submit({
        name: 'skips',
        steps: [
          { name: 'broken', command: ['sh', '-c', 'exit 2'] },
          { name: 'after', command: ['true'], needs: ['broken'] },
          { name: 'after-after', command: ['true'], needs: ['after'] },
          {
            name: 'report',
            command: ['sh', '-c', 'echo reporting anyway'],
            needs: ['broken'],
            continueOnFailure: true,
          },
        ],
      });
      const run = await system.waitForRun(id);
      expect(run.status).toBe('failed');
      expect(run.jobs.map((j) => [j.name, j.status])).toEqual([
        ['broken', 'failed'],
        ['after', 'skipped'],
        ['report', 'succeeded'],
        ['after-after', 'skipped'],
      ]);
      const byName = new Map(jobs.map((j) => [j.name, j.id]));
      const after = (await system.api('GET', `/api/v1/jobs/${byName.get('after')}`)).body as {
        status: string;
        reason: string;
        message: string;
      };
      expect(after).toMatchObject({
        status: 'skipped',
        reason: 'skipped',
        message: "step 'broken', which it needs, failed",
      });
      expect(await history(byName.get('after-after')!)).toEqual([
        expect.objectContaining({
          type: 'job.skipped',
          data: { reason: "step 'after', which it needs, was skipped", step: 'after' },
        }),
      ]);
      const logs = await system.api('GET', `/api/v1/jobs/${byName.get('report')}/logs`);
      expect(logs.text).toBe('reporting anyway\n');
      // Following the logs of a step that never ran ends (it has no output, and no end marker
      // will ever come), as following one that ran does.
      const followed = await system.api(
        'GET',
        `/api/v1/jobs/${byName.get('after')}/logs?follow=true`,
      );
      expect([followed.status, followed.text]).toEqual([200, '']);
      const ran = await system.api('GET', `/api/v1/jobs/${byName.get('report')}/logs?follow=true`);
      expect(ran.text).toBe('reporting anyway\n');
    });
  });

  describe('inputs from another step', () => {
    it('stages the version the step committed in this run, even when another run committed a newer one since', async () => {
      const gate = await shared('acai-gate-');
      const go = path.join(gate, 'go');
      const { id, jobs } = await submit({
        name: 'pinned',
        steps: [
          {
            name: 'etl',
            command: ['sh', '-c', 'echo "from this run" > "$ACAI_OUTPUT_PINNED_DATA/rows.txt"'],
            outputs: [{ fileset: 'pinned-data' }],
          },
          {
            name: 'gate',
            command: ['sh', '-c', 'while [ ! -e "$GO" ]; do sleep 0.05; done'],
            env: { GO: go },
            timeoutSeconds: 120,
          },
          {
            name: 'train',
            command: ['sh', '-c', 'cat "$ACAI_INPUT_PINNED_DATA/rows.txt"'],
            needs: ['gate'],
            inputs: [{ step: 'etl', output: 'pinned-data' }],
          },
        ],
      });
      const byName = new Map(jobs.map((j) => [j.name, j.id]));
      const etl = await eventually(
        'etl to commit its output',
        async () => {
          const events = await history(byName.get('etl')!);
          const done = events.find((e) => e.type === 'job.succeeded');
          return done === undefined
            ? undefined
            : (done.data['outputs'] as { fileset: string; version: number }[])[0];
        },
        30_000,
      );
      expect(etl?.fileset).toBe('pinned-data');

      // Meanwhile another run commits a newer version of the same file set.
      const other = await submit({
        name: 'concurrent',
        steps: [
          {
            name: 'overwrite',
            command: ['sh', '-c', 'echo "from another run" > "$ACAI_OUTPUT_PINNED_DATA/rows.txt"'],
            outputs: [{ fileset: 'pinned-data' }],
          },
        ],
      });
      expect((await system.waitForRun(other.id)).status).toBe('succeeded');
      const latest = (await system.api('GET', '/api/v1/filesets/pinned-data/versions/latest'))
        .body as { version: number };
      expect(latest.version).toBeGreaterThan(etl.version);

      await writeFile(go, '');
      const run = await system.waitForRun(id, undefined, 60_000);
      expect(run.status).toBe('succeeded');
      const queued = (await history(byName.get('train')!)).find((e) => e.type === 'job.queued')!;
      expect(queued.data['inputs']).toEqual([
        expect.objectContaining({
          fileset: 'pinned-data',
          version: etl.version,
          path: 'inputs/pinned-data',
        }),
      ]);
      const logs = await system.api('GET', `/api/v1/jobs/${byName.get('train')}/logs`);
      expect(logs.text).toBe('from this run\n');
    });
  });
});
