import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { RunTimelineView, TimelineEntryView } from '@acai/contracts';
import { startSystem, type TestSystem } from '../support/system.js';

describe('a run’s timeline', () => {
  let system: TestSystem;
  let runId: string;
  let jobId: string;

  beforeAll(async () => {
    system = await startSystem();
    const submitted = await system.api('POST', '/api/v1/runs', {
      name: 'timeline',
      steps: [{ name: 'train', command: ['sh', '-c', 'echo "##acai metric loss=0.5 step=1"'] }],
    });
    expect(submitted.status).toBe(202);
    ({ id: runId } = submitted.body as { id: string });
    jobId = (submitted.body as { jobs: { id: string }[] }).jobs[0]!.id;
    expect((await system.waitForRun(runId)).status).toBe('succeeded');
  });

  afterAll(async () => {
    await system?.close();
  });

  it('lists the run’s steps and every decision in order, each with a sentence', async () => {
    const r = await system.api('GET', `/api/v1/runs/${runId}/timeline`);
    expect(r.status).toBe(200);
    const timeline = r.body as RunTimelineView;
    expect(timeline.runId).toBe(runId);
    expect(timeline.next).toBeNull();
    expect(timeline.items.map((i) => i.type)).toEqual([
      'run.submitted',
      'job.queued',
      'job.provisioned',
      'job.dispatched',
      'job.started',
      'job.succeeded',
      'run.job_settled',
      'run.succeeded',
    ]);
    const seqs = timeline.items.map((i) => i.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    const provisioned = timeline.items[2]!;
    const { reason } = provisioned.data as { reason: string };
    expect(reason.length).toBeGreaterThan(0);
    expect(provisioned).toMatchObject({ jobId, step: 'train', trial: null, attempt: null });
    expect(provisioned.summary).toContain(`'train' provisioned on `);
    expect(provisioned.summary).toContain(reason);
    expect(timeline.items[4]).toMatchObject({ jobId, attempt: 1 });
    expect(timeline.items.at(-1)!.summary).toBe('Run succeeded');
  });

  it('is read a page at a time, `next` being the `after` of the next page', async () => {
    const whole = (await system.api('GET', `/api/v1/runs/${runId}/timeline`))
      .body as RunTimelineView;
    const paged: TimelineEntryView[] = [];
    let after = 0;
    for (let pages = 1; ; pages++) {
      const r = await system.api('GET', `/api/v1/runs/${runId}/timeline?after=${after}&limit=3`);
      expect(r.status).toBe(200);
      const page = r.body as RunTimelineView;
      expect(page.items.length).toBeLessThanOrEqual(3);
      paged.push(...page.items);
      if (page.next === null) break;
      after = page.next;
      expect(pages).toBeLessThan(10);
    }
    expect(paged).toEqual(whole.items);

    const bad = await system.api('GET', `/api/v1/runs/${runId}/timeline?limit=0`);
    expect(bad.status).toBe(400);
  });

  it('is not found with another project’s key, as a run that does not exist', async () => {
    const created = await system.api('POST', '/api/v1/projects', { name: 'timeline-other' });
    expect(created.status).toBe(201);
    const otherKey = (created.body as { key: string }).key;

    const r = await system.api('GET', `/api/v1/runs/${runId}/timeline`, undefined, otherKey);
    expect(r.status).toBe(404);
    expect(r.body).toMatchObject({
      status: 404,
      reason: 'RUN_NOT_FOUND',
      detail: `No run '${runId}' in this project`,
    });
    expect(r.text).not.toContain('train');
    const missing = await system.api('GET', `/api/v1/runs/run-000000000000000000000zz/timeline`);
    expect(missing.status).toBe(404);
  });
});
