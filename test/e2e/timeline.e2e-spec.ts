import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { TimelineEntryView } from '@acai/contracts';
import { AcaiApiError, type AcaiClient } from '@acai/sdk';
import { startSystem, type TestSystem } from '../support/system.js';

describe('a run’s timeline', () => {
  let system: TestSystem;
  let acai: AcaiClient;
  let runId: string;
  let jobId: string;

  beforeAll(async () => {
    system = await startSystem();
    acai = system.client();
    const submitted = await acai.submitRun({
      name: 'timeline',
      steps: [{ name: 'train', command: ['sh', '-c', 'echo "##acai metric loss=0.5 step=1"'] }],
    });
    runId = submitted.id;
    jobId = submitted.jobs[0]!.id;
    expect((await system.waitForRun(runId)).status).toBe('succeeded');
  });

  afterAll(async () => {
    await system?.close();
  });

  it('lists the run’s steps and every decision in order, each with a sentence', async () => {
    const timeline = await acai.getRunTimeline(runId);
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
    const whole = await acai.getRunTimeline(runId);
    const paged: TimelineEntryView[] = [];
    let after = 0;
    for (let pages = 1; ; pages++) {
      const page = await acai.getRunTimeline(runId, { after, limit: 3 });
      expect(page.items.length).toBeLessThanOrEqual(3);
      paged.push(...page.items);
      if (page.next === null) break;
      after = page.next;
      expect(pages).toBeLessThan(10);
    }
    expect(paged).toEqual(whole.items);

    await expect(acai.getRunTimeline(runId, { limit: 0 })).rejects.toMatchObject({
      status: 400,
      details: [expect.objectContaining({ path: 'limit' })],
    });
  });

  it('is not found with another project’s key, as a run that does not exist', async () => {
    const { key: otherKey } = await acai.createProject('timeline-other');

    const refused = await system
      .client(otherKey)
      .getRunTimeline(runId)
      .catch((e: unknown) => e as AcaiApiError);
    expect(refused).toBeInstanceOf(AcaiApiError);
    expect(refused).toMatchObject({
      status: 404,
      reason: 'RUN_NOT_FOUND',
      detail: `No run '${runId}' in this project`,
    });
    expect(JSON.stringify((refused as AcaiApiError).problem)).not.toContain('train');
    await expect(acai.getRunTimeline('run-000000000000000000000zz')).rejects.toMatchObject({
      status: 404,
    });
  });
});
