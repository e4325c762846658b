import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { eventually } from '@acai/testkit';
import { startSystem, type TestSystem } from '../support/system.js';
import { SseStream, type SseEvent } from '../support/sse.js';

/** `GET /api/v1/events` against the whole stack (docs: /work/briefs/sse-contract.md, README). */
describe('live events (Server-Sent Events)', () => {
  let system: TestSystem;
  let betaKey: string;
  /** A log position before anything the tests do. */
  let before: number;
  let runId: string;
  let jobIds: string[];
  const open: SseStream[] = [];

  const stream = async (query: string, key = system.key, headers: Record<string, string> = {}) => {
    const s = await SseStream.open(system.gatewayUrl, query, key, headers);
    open.push(s);
    return s;
  };
  /** The consumers event streams hold: those filtered to a project's events (services' are not). */
  const consumers = async () => {
    const bus = system.services['gateway']!.ctx.bus;
    const all = await bus.jsm.consumers.list(bus.topology.streams.events).next();
    return all.filter((c) =>
      c.config.filter_subject?.startsWith(`${bus.topology.prefix}.evt.default.`),
    ).length;
  };

  beforeAll(async () => {
    system = await startSystem({ env: { ACAI_SSE_HEARTBEAT_MS: '200' } });
    const beta = await system.api('POST', '/api/v1/projects', { name: 'beta' });
    expect(beta.status).toBe(201);
    betaKey = (beta.body as { key: string }).key;

    // A live tail sees the first event appended after its headers came.
    const tail = await stream('');
    expect((await system.api('POST', '/api/v1/filesets', { name: 'marker' })).status).toBe(201);
    const first = await tail.next();
    expect(first?.event).toBe('fileset.created');
    expect(first?.data).toMatchObject({ project: 'default', aggregateId: 'marker' });
    before = first!.id;
    await tail.close();

    // What the filters are tried on: a run of two steps, two file sets, a label change, and the
    // same in project beta.
    const submitted = await system.api('POST', '/api/v1/runs', {
      name: 'sse',
      steps: [
        { name: 'one', command: ['echo', 'one'] },
        { name: 'two', command: ['echo', 'two'], needs: ['one'] },
      ],
    });
    expect(submitted.status).toBe(202);
    const run = submitted.body as { id: string; jobs: { id: string }[] };
    runId = run.id;
    jobIds = run.jobs.map((j) => j.id);
    expect((await system.waitForRun(runId)).status).toBe('succeeded');
    for (const name of ['alpha', 'bravo']) {
      expect((await system.api('POST', '/api/v1/filesets', { name })).status).toBe(201);
    }
    expect(
      (await system.api('PATCH', '/api/v1/filesets/alpha/labels', { add: ['prod'] })).status,
    ).toBe(200);
    expect((await system.api('POST', '/api/v1/filesets', { name: 'alpha' }, betaKey)).status).toBe(
      201,
    );
    expect((await system.api('POST', '/api/v1/filesets', { name: 'end' })).status).toBe(201);
  });

  afterAll(async () => {
    for (const s of open) await s.close();
    await system?.close();
  });

  /** Everything of project default from `before` to the `end` file set, read in one go. */
  let all: SseEvent[];
  const isEnd = (e: SseEvent) => e.event === 'fileset.created' && e.data['aggregateId'] === 'end';

  it('sends headers at once, then each event with its log position, type and stored envelope', async () => {
    const s = await stream(`?after=${before}`);
    expect(s.response.status).toBe(200);
    expect(s.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(s.response.headers.get('cache-control')).toBe('no-cache');
    all = await s.until(isEnd);
    const ids = all.map((e) => e.id);
    expect(ids[0]).toBeGreaterThan(before);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    for (const e of all) {
      expect(e.event).toBe(e.data.type);
      expect(e.data.project).toBe('default');
      expect(e.data).toHaveProperty('occurredAt');
      expect(e.data).toHaveProperty('version');
    }
    const types = all.map((e) => e.event);
    expect(types).toEqual(
      expect.arrayContaining(['run.submitted', 'job.succeeded', 'run.succeeded']),
    );
    // Exactly as stored: the same envelope the log holds at that position.
    const bus = system.services['gateway']!.ctx.bus;
    const stored = await bus.jsm.direct.getMessage(bus.topology.streams.events, { seq: ids[0]! });
    expect(all[0]!.data).toEqual(stored!.json());
    await s.close();
  });

  it('filters by type, family, run, job and file set, alone and combined', async () => {
    const cases: [string, (e: SseEvent) => boolean][] = [
      [
        'type=job.succeeded,run.succeeded',
        (e) => ['job.succeeded', 'run.succeeded'].includes(e.event),
      ],
      ['type=job.*', (e) => e.event.startsWith('job.')],
      [
        `run=${runId}`,
        (e) =>
          (e.data['aggregate'] === 'run' && e.data['aggregateId'] === runId) ||
          e.data['correlationId'] === runId,
      ],
      [
        `job=${jobIds[1]}`,
        (e) =>
          (e.data['aggregate'] === 'job' && e.data['aggregateId'] === jobIds[1]) ||
          (e.data['data'] as Record<string, unknown>)['jobId'] === jobIds[1],
      ],
      [
        'fileset=alpha',
        (e) => e.data['aggregate'] === 'fileset' && e.data['aggregateId'] === 'alpha',
      ],
      [
        `type=job.*&run=${runId}`,
        (e) => e.event.startsWith('job.') && e.data['correlationId'] === runId,
      ],
    ];
    for (const [query, wanted] of cases) {
      const expected = all.filter(wanted);
      expect(expected.length).toBeGreaterThan(0);
      const last = expected[expected.length - 1]!.id;
      const s = await stream(`?after=${before}&${query}`);
      const got = await s.until((e) => e.id >= last);
      await s.close();
      expect([query, got.map((e) => e.id)]).toEqual([query, expected.map((e) => e.id)]);
    }
    // The job filter has the job's own events and the run's about it (its step settled).
    const job = all.filter(
      (e) => (e.data['data'] as Record<string, unknown>)['jobId'] === jobIds[1],
    );
    expect(job.map((e) => e.event)).toContain('run.job_settled');
  });

  it("never shows another project's events", async () => {
    // Beta's whole log: only its own events, its file set `alpha` among them.
    const s = await stream('?after=0', betaKey);
    const events = await s.until((e) => e.event === 'fileset.created');
    await s.close();
    expect(events.map((e) => e.data.project)).toEqual(events.map(() => 'beta'));
    // And default's stream has nothing of beta's, though beta's events sit among them in the log.
    expect(all.some((e) => e.id > events[events.length - 1]!.id)).toBe(true);
    expect(all.filter((e) => e.data.project !== 'default')).toEqual([]);
    // A filter that names another project's file set finds nothing of it.
    const alpha = await stream(`?after=${before}&fileset=alpha&type=fileset.created`, betaKey);
    const first = await alpha.until(() => true);
    expect(first[0]!.data.project).toBe('beta');
    await alpha.close();
  });

  it('resumes with Last-Event-ID after a dropped connection: no gap, no duplicate', async () => {
    const s = await stream(`?after=${before}`);
    const part = [await s.next(), await s.next(), await s.next()].map((e) => e!);
    await s.close();
    // Last-Event-ID wins over `after`.
    const again = await stream('?after=0', system.key, {
      'last-event-id': String(part[part.length - 1]!.id),
    });
    const rest = await again.until(isEnd);
    await again.close();
    expect([...part, ...rest].map((e) => e.id)).toEqual(all.map((e) => e.id));
  });

  it('sends heartbeats on a quiet stream, and removes its consumer when the client goes', async () => {
    // Those of the streams the tests before closed are gone.
    await eventually('no stream to be open', async () =>
      (await consumers()) === 0 ? true : undefined,
    );
    const streams = await Promise.all([1, 2, 3].map(() => stream('?type=run.failed')));
    expect(await consumers()).toBe(3);
    await streams[0]!.heartbeatsSeen(2);
    for (const s of streams) await s.close();
    await eventually('the streams’ consumers to be removed', async () =>
      (await consumers()) === 0 ? true : undefined,
    );
  });

  it('refuses a filter that names nothing valid with a 400 that says what is valid', async () => {
    const bad: [string, Record<string, string>, string][] = [
      ['?type=job.nope', {}, 'type'],
      ['?type=nope.*', {}, 'type'],
      ['?type=job.succeeded,', {}, 'type'],
      ['?run=not-an-id', {}, 'run'],
      ['?job=run', {}, 'job'],
      ['?fileset=a%20b', {}, 'fileset'],
      ['?after=-1', {}, 'after'],
      ['', { 'last-event-id': 'yesterday' }, 'Last-Event-ID'],
    ];
    for (const [query, headers, names] of bad) {
      const s = await stream(query, system.key, headers);
      const body = (await s.response.json()) as { detail: string };
      expect([query, s.response.status]).toEqual([query, 400]);
      expect(s.response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(body.detail).toContain(names);
    }
    const unknown = await stream('?type=job.nope');
    const detail = ((await unknown.response.json()) as { detail: string }).detail;
    expect(detail).toContain("'job.nope'");
    expect(detail).toContain('job.*');
    expect(detail).toContain('run.succeeded');
    // Without a key: 401, as every route.
    const anonymous = await fetch(`${system.gatewayUrl}/api/v1/events`);
    expect(anonymous.status).toBe(401);
  });

  it('serves the event catalogue as AsyncAPI without a key, with this deployment’s subjects', async () => {
    const r = await system.api('GET', '/api/asyncapi.json', undefined, null);
    expect(r.status).toBe(200);
    const document = r.body as { asyncapi: string; channels: Record<string, { address: string }> };
    expect(document.asyncapi).toBe('3.0.0');
    const prefix = system.services['gateway']!.ctx.bus.topology.prefix;
    expect(document.channels['job']!.address).toBe(`${prefix}.evt.{project}.job.{id}`);
  });
});
