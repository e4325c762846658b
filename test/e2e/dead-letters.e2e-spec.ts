import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { subjects, type DeadLetterList, type RedriveResult } from '@acai/contracts';
import { eventually } from '@acai/testkit';
import { startSystem, type TestSystem } from '../support/system.js';

/** Bytes that are not an event at all. */
const garbage = new TextEncoder().encode('\u0000this is not json{{');

describe('dead letters', () => {
  let system: TestSystem;

  beforeAll(async () => {
    system = await startSystem();
  });

  afterAll(async () => {
    await system?.close();
  });

  const list = async (query = '') => {
    const r = await system.api('GET', `/api/v1/admin/dead-letters${query}`);
    expect(r.status).toBe(200);
    return r.body as DeadLetterList;
  };

  /** A service's Prometheus metrics, as text. */
  const metrics = async (service: string) =>
    (await fetch(`${system.services[service]!.url}/metrics`)).text();

  it('a run whose step reads a file set waits while the catalog is down, longer than attempts used to last, and succeeds once it is back; nothing is dead-lettered', async () => {
    const bytes = 'seven\n';
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    expect((await system.upload(bytes, sha256)).status).toBe(201);
    expect((await system.api('POST', '/api/v1/filesets', { name: 'words' })).status).toBe(201);
    const commit = await system.api('POST', '/api/v1/filesets/words/versions', {
      parent: 0,
      put: [{ path: 'a.txt', sha256 }],
    });
    expect(commit.status).toBe(201);

    await system.stop('catalog');
    const down = Date.now();
    const submitted = await system.api('POST', '/api/v1/runs', {
      name: 'during-the-outage',
      steps: [
        {
          name: 'read',
          command: ['sh', '-c', 'cat "$ACAI_INPUT_WORDS/a.txt"'],
          inputs: [{ fileset: 'words' }],
        },
      ],
    });
    expect(submitted.status).toBe(202);
    const { id, jobs } = submitted.body as { id: string; jobs: { id: string }[] };

    // The scheduler cannot pin the input to a version without the catalog: it waits, and says so.
    await eventually('the scheduler to wait for the catalog', async () =>
      /acai_consumer_waiting\{[^}]*consumer="scheduler-run"[^}]*\} 1\b/.test(
        await metrics('scheduler'),
      )
        ? true
        : undefined,
    );
    // Down for longer than its eight attempts used to last (about 11 s) before dead letters.
    await eventually(
      'the catalog to have been down for 15 s',
      () => (Date.now() - down > 15_000 ? true : undefined),
      60_000,
      250,
    );
    const during = await list();
    expect(during.items).toEqual([]);
    expect(during.unanswered).toEqual(['catalog']);
    const waitingRun = (await system.api('GET', `/api/v1/runs/${id}`)).body as { status: string };
    expect(['succeeded', 'failed', 'cancelled']).not.toContain(waitingRun.status);

    await system.start('catalog');
    const run = await system.waitForRun(id, undefined, 60_000);
    expect(run.status).toBe('succeeded');
    expect((await system.api('GET', `/api/v1/jobs/${jobs[0]!.id}/logs`)).text).toBe(bytes);
    const after = await list();
    expect(after).toEqual({ items: [], nextCursor: null, total: 0, unanswered: [] });
    expect(await metrics('scheduler')).toMatch(
      /acai_consumer_waiting\{[^}]*consumer="scheduler-run"[^}]*\} 0\b/,
    );
  });

  it('lists every service’s dead letters for the platform admin, page by page, payloads only when asked', async () => {
    const bus = system.services['gateway']!.ctx.bus;
    const subject = subjects.aggregate(bus.topology, 'default', 'run', 'run-garbled');
    const published = await bus.js.publish(subject, garbage);

    // The scheduler's and the provisioner's consumers of runs and provenance's projections (each
    // of them) give up on it.
    await eventually('the services that read runs to dead-letter it', async () => {
      const services = new Set((await list()).items.map((l) => l.service));
      return ['scheduler', 'provisioner', 'provenance'].every((s) => services.has(s as never))
        ? true
        : undefined;
    });
    const letters = await list();
    expect(letters.unanswered).toEqual([]);
    expect(letters.items.every((l) => l.seq === published.seq && l.reason === 'undecodable')).toBe(
      true,
    );
    const scheduler = (await list('?service=scheduler')).items;
    expect(scheduler).toEqual([
      expect.objectContaining({
        service: 'scheduler',
        consumer: 'scheduler-run',
        seq: published.seq,
        subject,
        type: null,
        reason: 'undecodable',
        redrives: 0,
        redrivingSince: null,
        payloadBytes: garbage.length,
      }),
    ]);
    expect(scheduler[0]).not.toHaveProperty('payload');
    const withPayload = await list('?service=scheduler&payload=true');
    expect(Buffer.from(withPayload.items[0]!.payload!, 'base64')).toEqual(Buffer.from(garbage));
    expect((await list('?consumer=scheduler-run&reason=max_deliveries')).items).toEqual([]);

    // One letter a page: the cursor walks them all, each once, oldest first.
    const walked: string[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const page = await list(`?limit=1${cursor === '' ? '' : `&cursor=${cursor}`}`);
      walked.push(...page.items.map((l) => l.id));
      expect(page.total).toBe(letters.total);
      cursor = page.nextCursor;
    }
    expect(walked).toEqual(letters.items.map((l) => l.id));

    // A project's own admin key is not the platform's.
    const project = await system.api('POST', '/api/v1/projects', { name: 'outsider' });
    const key = (project.body as { key: string }).key;
    const refused = await system.api('GET', '/api/v1/admin/dead-letters', undefined, key);
    expect(refused.status).toBe(403);
    const badCursor = await system.api('GET', '/api/v1/admin/dead-letters?cursor=nonsense');
    expect(badCursor.status).toBe(400);

    expect(await metrics('scheduler')).toMatch(
      /acai_dead_letters\{[^}]*consumer="scheduler-run"[^}]*\} 1\b/,
    );
    expect(await metrics('scheduler')).toMatch(
      /acai_dead_letters_total\{[^}]*consumer="scheduler-run"[^}]*reason="undecodable"[^}]*\} 1\b/,
    );
  });

  it('redrives a letter through the consumer it came from: handled, it is gone; failing again, it stays, redriven once', async () => {
    const scheduler = system.services['scheduler']!;
    const bus = scheduler.ctx.bus;
    const [garbled] = (await list('?service=scheduler')).items;
    expect(garbled?.reason).toBe('undecodable');

    // Still not an event: it fails again and stays, counted.
    const again = await system.api('POST', `/api/v1/admin/dead-letters/${garbled!.id}/redrive`);
    expect(again.status).toBe(202);
    expect((again.body as RedriveResult).redriven).toEqual([
      expect.objectContaining({ id: garbled!.id, service: 'scheduler', how: 'handle' }),
    ]);
    await eventually('the letter to be back, redriven once', async () => {
      const [back] = (await list('?service=scheduler')).items;
      return back?.redrives === 1 && back.redrivingSince === null ? back : undefined;
    });

    // A letter an outage of an earlier release left: the submission of a run that ran since. Its
    // consumer handles it again (a decision already taken, so nothing changes) and it is gone.
    const submitted = await system.api('POST', '/api/v1/runs', {
      name: 'handled-twice',
      steps: [{ name: 'a', command: ['true'] }],
    });
    const { id: runId } = submitted.body as { id: string };
    expect((await system.waitForRun(runId)).status).toBe('succeeded');
    const runSubject = subjects.aggregate(bus.topology, 'default', 'run', runId);
    const first = await bus.jsm.direct.getMessage(bus.topology.streams.events, {
      seq: 0,
      next_by_subj: runSubject,
    });
    await scheduler.ctx.deadLetters.record({
      consumer: 'scheduler-run',
      stream: bus.topology.streams.events,
      seq: first!.seq,
      subject: runSubject,
      reason: 'max_deliveries',
      error: 'gave up after 8 attempts: The catalog service is not running',
      payload: first!.data,
      eventType: 'run.submitted',
    });
    const [left] = (await list('?reason=max_deliveries')).items;
    expect(left).toEqual(
      expect.objectContaining({ service: 'scheduler', type: 'run.submitted', seq: first!.seq }),
    );
    const redriven = await system.api('POST', `/api/v1/admin/dead-letters/${left!.id}/redrive`);
    expect(redriven.status).toBe(202);
    await eventually('the redriven letter to be handled and gone', async () =>
      (await list('?reason=max_deliveries')).items.length === 0 ? true : undefined,
    );
    const run = (await system.api('GET', `/api/v1/runs/${runId}`)).body as { status: string };
    expect(run.status).toBe('succeeded');

    const missing = await system.api(
      'POST',
      '/api/v1/admin/dead-letters/00000000-0000-4000-8000-000000000000/redrive',
    );
    expect(missing.status).toBe(404);
    expect((missing.body as { reason: string }).reason).toBe('DEAD_LETTER_NOT_FOUND');
  });

  it('redrives all the letters of a service; a projection’s are taken back by replaying it', async () => {
    const before = (await list('?service=provenance')).items;
    expect(before.length).toBeGreaterThan(0);

    const bad = await system.api('POST', '/api/v1/admin/dead-letters/redrive', {
      service: 'nobody',
    });
    expect(bad.status).toBe(400);
    const redrive = await system.api('POST', '/api/v1/admin/dead-letters/redrive', {
      service: 'provenance',
    });
    expect(redrive.status).toBe(202);
    const result = redrive.body as RedriveResult;
    expect(result.redriven.map((l) => l.id).sort()).toEqual(before.map((l) => l.id).sort());
    expect(result.redriven.every((l) => l.how === 'replay')).toBe(true);
    expect(result.unanswered).toEqual([]);

    // Replayed from the log, the garbled message fails again: a new letter, the old one gone.
    const after = await eventually('the replay to have run', async () => {
      const items = (await list('?service=provenance')).items;
      const old = new Set(before.map((l) => l.id));
      return items.length === before.length && items.every((l) => !old.has(l.id))
        ? items
        : undefined;
    });
    expect(after.map((l) => l.reason)).toEqual(before.map((l) => l.reason));
    expect((await system.api('GET', '/api/v1/runs')).status).toBe(200);
  });
});
