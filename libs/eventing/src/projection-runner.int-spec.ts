import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { isolatedTopology, subjects, type NewEvent, type Projection } from '@acai/contracts';
import { eventually, testEnv, uniqueTag } from '@acai/testkit';
import { connectBus, deleteStreams, ensureStreams, type Bus } from './bus.js';
import { PostgresDeadLetters } from './dead-letters.js';
import { EventStore } from './event-store.js';
import type { EventingLogger } from './logger.js';
import type { ConsumerMonitor } from './monitor.js';
import {
  ProjectionRunner,
  type ProjectionRunnerOptions,
  type SqlProjection,
} from './projection-runner.js';
import {
  eventingEntities,
  ProjectionCheckpointEntity,
  ProjectionDocumentEntity,
} from './storage.entities.js';
import { eventingMigrations } from './storage.migration.js';

/** How many events of its aggregate a document has seen, and which ones. */
interface Counted {
  count: number;
  seqs: number[];
}

function countingProjection(name: string): Projection<Counted> {
  return {
    name,
    keys: (e) => [e.aggregateId],
    evolve: (doc, e) => ({
      count: (doc?.count ?? 0) + 1,
      seqs: [...(doc?.seqs ?? []), e.position.seq],
    }),
  };
}

const tag = uniqueTag();
const schema = `it_${tag}`;
let bus: Bus;
let db: DataSource;
let deadLetters: PostgresDeadLetters;
let store: EventStore;
const running: ProjectionRunner<Counted>[] = [];

/** What the runners reported, by consumer (`projection:<name>`), as metrics would count it. */
const waiting = new Map<string, number>();
const letters = new Map<string, string[]>();
const monitor: ConsumerMonitor = {
  waiting: (consumer, delta) => void waiting.set(consumer, (waiting.get(consumer) ?? 0) + delta),
  retried: () => undefined,
  deadLettered: (consumer, reason) =>
    void letters.set(consumer, [...(letters.get(consumer) ?? []), reason]),
};

/** Waits between tries, shortened: the rules are the same, a test need not wait seconds. */
const quick = { firstMs: 5, maxMs: 50 };

beforeAll(async () => {
  const { natsUrl, databaseUrl } = testEnv();
  bus = await connectBus({
    url: natsUrl,
    name: 'projection-runner-it',
    topology: isolatedTopology(tag),
  });
  await ensureStreams(bus);
  db = await openSchema(databaseUrl, schema);
  deadLetters = new PostgresDeadLetters(db, { monitor });
  store = new EventStore(bus);
});

afterEach(async () => {
  for (const runner of running.splice(0)) await runner.stop();
});

afterAll(async () => {
  if (db?.isInitialized) {
    await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await db.destroy();
  }
  if (bus !== undefined) {
    await deleteStreams(bus);
    await bus.close();
  }
});

/**
 * A schema of this file's own with the eventing tables, migrated as a service's would be.
 * (`openDatabase` in @acai/platform does the same, but platform depends on this library.)
 */
async function openSchema(url: string, name: string): Promise<DataSource> {
  const dataSource = new DataSource({
    type: 'postgres',
    url,
    schema: name,
    entities: eventingEntities,
    migrations: eventingMigrations,
    logging: false,
  });
  await dataSource.initialize();
  await dataSource.query(`CREATE SCHEMA IF NOT EXISTS "${name}"`);
  await dataSource.runMigrations({ transaction: 'each' });
  return dataSource;
}

function cancelled(reason: string): NewEvent {
  return { type: 'job.cancelled', data: { reason } };
}

function queued(name: string): NewEvent {
  const resources = { cpu: 1, memoryMb: 512 };
  return {
    type: 'job.queued',
    data: {
      runId: 'run-1',
      name,
      command: ['python', 'train.py'],
      env: {},
      resources,
      inputs: [],
      outputs: [],
      timeoutSeconds: null,
      network: 'default',
      secrets: {},
      provision: null,
      retries: null,
    },
  };
}

/** A logger that keeps its error lines, so a test can wait for a failure to have happened. */
function recordingLogger(): EventingLogger & { errors: object[] } {
  const errors: object[] = [];
  const ignore = () => undefined;
  return {
    errors,
    info: ignore,
    warn: ignore,
    debug: ignore,
    error: (obj) => void errors.push(obj),
  };
}

const encoder = new TextEncoder();

/** Bytes that are not an event at all. */
const garbage = encoder.encode('\u0000this is not json{{');

/** A well-formed envelope of an event type and version no service knows. */
function unknownEnvelope(ref: { project: string; aggregate: string; id: string }): Uint8Array {
  return encoder.encode(
    JSON.stringify({
      id: randomUUID(),
      type: 'job.exploded',
      version: 9,
      project: ref.project,
      aggregate: ref.aggregate,
      aggregateId: ref.id,
      occurredAt: new Date().toISOString(),
      causationId: null,
      correlationId: null,
      data: { boom: true },
    }),
  );
}

/**
 * A projection of its own over a project of its own, so tests in this file never see each other's
 * events.
 */
function scenario() {
  const project = `p${uniqueTag()}`;
  const name = `counts-${project}`;
  const expected = new Map<string, number[]>();
  let lastSeq = 0;
  return {
    project,
    name,
    /** Everything appended so far: aggregate id → the seqs of its events, in order. */
    expected,
    get lastSeq() {
      return lastSeq;
    },
    runner(options: ProjectionRunnerOptions = {}): ProjectionRunner<Counted> {
      const runner = new ProjectionRunner(bus, db, countingProjection(name), deadLetters, {
        filterSubject: subjects.projectEvents(bus.topology, project),
        ...options,
      });
      running.push(runner);
      return runner;
    },
    /** Appends `count` events round-robin over `ids`, one at a time. */
    async append(ids: readonly string[], count: number): Promise<void> {
      for (let i = 0; i < count; i++) {
        const id = ids[i % ids.length]!;
        const event = i % 2 === 0 ? cancelled(`step ${i}`) : queued(`step ${i}`);
        const [stored] = await store.append({ project, aggregate: 'job', id }, [event], {
          expectedVersion: 'any',
        });
        expected.set(id, [...(expected.get(id) ?? []), stored!.position.seq]);
        lastSeq = stored!.position.seq;
      }
    },
    /** Appends `count` events at once (unordered across aggregates), as busy services would. */
    async appendInParallel(ids: readonly string[], count: number): Promise<void> {
      const stored = await Promise.all(
        Array.from({ length: count }, (_, i) => {
          const ref = { project, aggregate: 'job', id: ids[i % ids.length]! };
          return store.append(ref, [cancelled(`parallel ${i}`)], { expectedVersion: 'any' });
        }),
      );
      for (const [event] of stored.sort((a, b) => a[0]!.position.seq - b[0]!.position.seq)) {
        const id = event!.aggregateId;
        expected.set(id, [...(expected.get(id) ?? []), event!.position.seq]);
        lastSeq = Math.max(lastSeq, event!.position.seq);
      }
    },
    async documents(): Promise<Map<string, Counted>> {
      const rows = await db
        .getRepository(ProjectionDocumentEntity)
        .find({ where: { projection: name }, order: { key: 'ASC' } });
      return new Map(rows.map((r) => [r.key, r.doc as Counted]));
    },
    /** Every aggregate's document has seen each of its events exactly once, in log order. */
    async expectExactlyOnce(): Promise<void> {
      const docs = await this.documents();
      expect([...docs.keys()].sort()).toEqual([...expected.keys()].sort());
      for (const [id, seqs] of expected) {
        expect({ id, ...docs.get(id) }).toEqual({ id, count: seqs.length, seqs });
      }
    },
    async checkpoint(): Promise<number | undefined> {
      const row = await db
        .getRepository(ProjectionCheckpointEntity)
        .findOneBy({ projection: name });
      return row?.lastSeq;
    },
  };
}

describe('ProjectionRunner', () => {
  it('folds every event into its aggregate’s document once, in log order', async () => {
    const s = scenario();
    await s.append(['a', 'b', 'c'], 12);

    const runner = s.runner();
    await runner.start();
    await runner.waitFor(s.lastSeq);

    await s.expectExactlyOnce();
    expect(await s.checkpoint()).toBe(s.lastSeq);
  });

  it('passes over the event types its projections do not read, and resumes after them', async () => {
    const s = scenario();
    // Appends alternate job.cancelled and job.queued over a and b: a has only the first, b only
    // the second. The projection reads job.cancelled alone.
    const readOnly = (type: string) => type === 'job.cancelled';
    await s.append(['a', 'b'], 9);
    const first = s.runner({ batchSize: 2, accepts: readOnly });
    await first.start();
    await first.waitFor(s.lastSeq);
    await first.stop();
    await s.append(['a', 'b'], 4);
    const restarted = s.runner({ batchSize: 2, accepts: readOnly });
    await restarted.start();
    await restarted.waitFor(s.lastSeq);

    const docs = await s.documents();
    expect([...docs.keys()]).toEqual(['a']);
    expect(docs.get('a')).toEqual({ count: 7, seqs: s.expected.get('a') });
    expect(restarted.position).toBe(s.lastSeq);
  });

  it('with a minimum batch interval, applies a burst of events in a few transactions, each event once', async () => {
    const s = scenario();
    const transactions: number[] = [];
    const runner = s.runner({
      minBatchIntervalMs: 300,
      onApplied: (seq) => transactions.push(seq),
    });
    await runner.start();
    await s.append(['a'], 1);
    await runner.waitFor(s.lastSeq);
    // A burst, one append after another: without the interval, nearly one transaction each.
    await s.append(['a', 'b', 'c'], 30);
    await runner.waitFor(s.lastSeq);
    expect(transactions.length).toBeLessThanOrEqual(4);
    await s.expectExactlyOnce();
    expect(await s.checkpoint()).toBe(s.lastSeq);
  });

  it('resumes from its checkpoint after a restart and applies no event twice', async () => {
    const s = scenario();
    const first = s.runner({ batchSize: 4 });
    await first.start();
    await s.append(['a', 'b', 'c'], 10);
    await first.waitFor(s.lastSeq);
    await first.stop();

    await s.append(['a', 'b', 'd'], 10);
    const restarted = s.runner({ batchSize: 4 });
    await restarted.start();
    await restarted.waitFor(s.lastSeq);

    await s.expectExactlyOnce();
    expect(await s.checkpoint()).toBe(s.lastSeq);
  });

  it('applies each event once when two replicas both receive every event', async () => {
    const s = scenario();
    // Both replicas start from the same checkpoint, so each is delivered every event, including
    // the ones the other has already applied: a redelivery on every batch.
    const replicaA = s.runner({ batchSize: 3 });
    const replicaB = s.runner({ batchSize: 5 });
    await Promise.all([replicaA.start(), replicaB.start()]);

    await s.appendInParallel(['a', 'b', 'c', 'd'], 40);
    await s.append(['a', 'e'], 6);
    await Promise.all([replicaA.waitFor(s.lastSeq), replicaB.waitFor(s.lastSeq)]);

    await s.expectExactlyOnce();
    expect(await s.checkpoint()).toBe(s.lastSeq);
  });

  it('recovers from a failed transaction mid-batch by starting again from its checkpoint', async () => {
    const s = scenario();
    const logger = recordingLogger();
    const runner = s.runner({ batchSize: 3, logger });
    await runner.start();
    await s.append(['a', 'b'], 6);
    await runner.waitFor(s.lastSeq);
    const before = s.lastSeq;

    const table = `"${schema}".projection_documents`;
    await db.query(`ALTER TABLE ${table} RENAME TO projection_documents_away`);
    try {
      await s.append(['a', 'b', 'c'], 9);
      await eventually('the runner to fail a batch', () =>
        logger.errors.length > 0 ? true : undefined,
      );
      // The failed batch moved nothing: neither the checkpoint nor the runner's position.
      expect(await s.checkpoint()).toBe(before);
      expect(runner.position).toBe(before);
    } finally {
      await db.query(
        `ALTER TABLE "${schema}".projection_documents_away RENAME TO projection_documents`,
      );
    }

    await runner.waitFor(s.lastSeq);
    await s.expectExactlyOnce();
    expect(await s.checkpoint()).toBe(s.lastSeq);
  });

  it('rebuilds an identical read model on replay', async () => {
    const s = scenario();
    const runner = s.runner({ batchSize: 7 });
    await runner.start();
    await s.append(['a', 'b', 'c', 'd'], 25);
    await runner.waitFor(s.lastSeq);
    const before = await s.documents();
    expect(before.size).toBe(4);

    const result = await runner.replay();

    expect(result).toEqual({ projection: s.name, lastSeq: s.lastSeq, documents: 4 });
    expect(await s.documents()).toEqual(before);
    await s.expectExactlyOnce();
  });

  it('runs several projections from one consumer, each with its own checkpoint, and replays one alone', async () => {
    const s = scenario();
    const other = countingProjection(`${s.name}-other`);
    const runner = new ProjectionRunner(bus, db, [countingProjection(s.name), other], deadLetters, {
      filterSubject: subjects.projectEvents(bus.topology, s.project),
    });
    running.push(runner);
    await runner.start();
    await s.append(['a', 'b', 'c'], 12);
    await runner.waitFor(s.lastSeq);
    await s.expectExactlyOnce();
    const otherDocs = async () =>
      (
        await db
          .getRepository(ProjectionDocumentEntity)
          .find({ where: { projection: other.name }, order: { key: 'ASC' } })
      ).map((r) => r.doc);
    const otherBefore = await otherDocs();
    expect(otherBefore).toHaveLength(3);

    const result = await runner.replay(s.name);
    expect(result).toEqual({ projection: s.name, lastSeq: s.lastSeq, documents: 3 });
    await s.expectExactlyOnce();
    // The other projection was not rebuilt, and did not apply the replayed events a second time.
    expect(await otherDocs()).toEqual(otherBefore);
  });

  it('answers replays asked for at once, and while it runs, with one rebuild they share', async () => {
    const s = scenario();
    // A read model in memory that counts its rebuilds.
    const rebuilt = { resets: 0, seqs: [] as number[] };
    const memory: SqlProjection = {
      name: `${s.name}-memory`,
      apply: async (_, events) => void rebuilt.seqs.push(...events.map((e) => e.position.seq)),
      reset: async () => {
        rebuilt.resets += 1;
        rebuilt.seqs = [];
      },
      count: async () => rebuilt.seqs.length,
    };
    const runner = new ProjectionRunner(
      bus,
      db,
      [countingProjection(s.name), memory],
      deadLetters,
      {
        filterSubject: subjects.projectEvents(bus.topology, s.project),
      },
    );
    running.push(runner);
    await runner.start();
    await s.append(['a', 'b', 'c'], 30);
    await runner.waitFor(s.lastSeq);
    const seqs = [...s.expected.values()].flat().sort((x, y) => x - y);

    // Six asked for at once, and three more while that rebuild is under way.
    const atOnce = Array.from({ length: 6 }, () => runner.replay(memory.name));
    await new Promise((resolve) => setImmediate(resolve));
    const results = await Promise.all([
      ...atOnce,
      ...Array.from({ length: 3 }, () => runner.replay(memory.name)),
    ]);

    for (const result of results) {
      expect(result).toEqual({ projection: memory.name, lastSeq: s.lastSeq, documents: 30 });
    }
    expect(rebuilt.resets).toBe(1);
    expect(rebuilt.seqs).toEqual(seqs);
    await s.expectExactlyOnce();
  });

  it('replays and catches up when the newest event in the log is not one it reads', async () => {
    const s = scenario();
    const runner = s.runner();
    await runner.start();
    await s.append(['a', 'b'], 6);
    await runner.waitFor(s.lastSeq);
    // Another project writes last: this runner never sees that event.
    const other = scenario();
    await other.append(['z'], 1);

    expect(await runner.catchUp(5_000)).toBe(true);
    const result = await runner.replay();
    expect(result).toEqual({ projection: s.name, lastSeq: s.lastSeq, documents: 2 });
    await s.expectExactlyOnce();
  });

  it('waits for a position of the log outside its filter: done once its own events before it are applied', async () => {
    const s = scenario();
    await s.append(['a', 'b'], 4);
    const before = s.lastSeq;
    // The event waited for is another project's: this runner is never delivered it.
    const other = scenario();
    await other.append(['z'], 1);
    const outside = other.lastSeq;
    expect(outside).toBeGreaterThan(before);

    const runner = s.runner({ minBatchIntervalMs: 50 });
    await runner.start();
    const waited = await Promise.race([
      runner.waitForLog(outside).then(() => 'done'),
      new Promise((resolve) => setTimeout(() => resolve('still waiting'), 5_000)),
    ]);
    expect(waited).toBe('done');
    expect(runner.position).toBeGreaterThanOrEqual(before);
    await s.expectExactlyOnce();
  });

  it('dead-letters undecodable and unknown events with their reason and applies the next event', async () => {
    const s = scenario();
    const runner = s.runner();
    await runner.start();
    const ref = { project: s.project, aggregate: 'job', id: 'a' };
    const subject = store.subjectOf(ref);

    const bad = await bus.js.publish(subject, garbage);
    const unknown = await bus.js.publish(subject, unknownEnvelope(ref));
    await s.append(['a'], 1);
    await runner.waitFor(s.lastSeq);

    await s.expectExactlyOnce();
    const letters = (await deadLetters.list(`projection:${s.name}`)).sort((a, b) => a.seq - b.seq);
    expect(letters.map((l) => ({ seq: l.seq, subject: l.subject, reason: l.reason }))).toEqual([
      { seq: bad.seq, subject, reason: 'undecodable' },
      { seq: unknown.seq, subject, reason: 'unknown_version' },
    ]);
    // The message is kept as it was, for someone to look at.
    expect(new Uint8Array(letters[0]!.payload)).toEqual(garbage);
    expect(letters[1]!.error).toMatch(/job\.exploded v9/);

    // A replay meets them again: still one letter each.
    await runner.replay();
    expect((await deadLetters.list(`projection:${s.name}`)).map((l) => l.id).sort()).toEqual(
      letters.map((l) => l.id).sort(),
    );
  });
  /**
   * A SQL projection in memory that keeps the seqs it applied, and fails as told: `failing(event)`
   * says what to throw for an event (nothing: apply it).
   */
  function flaky(name: string, failing: (reason: string) => Error | undefined) {
    const applied: number[] = [];
    let tries = 0;
    const projection: SqlProjection = {
      name,
      apply: async (_, events) => {
        for (const event of events) {
          const reason = event.type === 'job.cancelled' ? event.data.reason : '';
          const error = failing(reason);
          if (error !== undefined) {
            tries++;
            throw error;
          }
        }
        applied.push(...events.map((e) => e.position.seq));
      },
      reset: async () => void applied.splice(0),
      count: async () => applied.length,
    };
    return {
      projection,
      applied,
      get tries() {
        return tries;
      },
    };
  }

  it('waits out a database that is away, never counting it, and applies the events once it is back', async () => {
    const s = scenario();
    let databaseUp = false;
    const search = flaky(`${s.name}-search`, () =>
      databaseUp
        ? undefined
        : Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
            code: 'ECONNREFUSED',
          }),
    );
    const runner = new ProjectionRunner(
      bus,
      db,
      [countingProjection(s.name), search.projection],
      deadLetters,
      {
        filterSubject: subjects.projectEvents(bus.topology, s.project),
        maxDeliver: 2,
        retryDelays: quick,
      },
    );
    running.push(runner);
    await runner.start();
    await s.append(['a', 'b'], 6);

    const consumer = `projection:${runner.name}`;
    await eventually('ten tries refused', () => (search.tries >= 10 ? true : undefined));
    expect(waiting.get(consumer)).toBe(1);
    expect(await s.documents()).toEqual(new Map());
    databaseUp = true;

    await runner.waitFor(s.lastSeq);
    await s.expectExactlyOnce();
    expect(search.applied).toEqual([...s.expected.values()].flat().sort((x, y) => x - y));
    expect(waiting.get(consumer)).toBe(0);
    expect(await deadLetters.list(`projection:${search.projection.name}`)).toEqual([]);
    expect(letters.get(`projection:${search.projection.name}`)).toBeUndefined();
  });

  it('lets a projection far behind the others (new in a release) catch up beside them: the others apply new events meanwhile, and it joins them with every event once', async () => {
    const s = scenario();
    const first = s.runner();
    await first.start();
    await s.append(['a', 'b', 'c'], 10);
    await first.waitFor(s.lastSeq);
    await first.stop();
    const backlog = s.lastSeq;

    // A projection added in a release: it has read nothing, and reading the backlog is slow.
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const applied: number[] = [];
    const newcomer: SqlProjection = {
      name: `${s.name}-new`,
      apply: async (_, events) => {
        if (events.some((e) => e.position.seq <= backlog)) await gate;
        applied.push(...events.map((e) => e.position.seq));
      },
      reset: async () => void applied.splice(0),
      count: async () => applied.length,
    };
    const said: string[] = [];
    const logger: EventingLogger = {
      info: (_, message) => void said.push(message ?? ''),
      warn: () => undefined,
      error: () => undefined,
      debug: () => undefined,
    };
    const runner = new ProjectionRunner(
      bus,
      db,
      [countingProjection(s.name), newcomer],
      deadLetters,
      { filterSubject: subjects.projectEvents(bus.topology, s.project), catchUpLag: 3, logger },
    );
    running.push(runner);
    await runner.start();
    await s.append(['a', 'd'], 4);
    // The others' read model has the new events while the newcomer is still on the backlog.
    await eventually('the established projection to apply the new events', async () => {
      const docs = await s.documents();
      return docs.get('d')?.count === 2 ? true : undefined;
    });
    await s.expectExactlyOnce();
    expect(applied).toEqual([]);
    expect(said).toContain(
      'projection is behind the others: it catches up beside them, then joins them',
    );

    open();
    await eventually('the newcomer to join the others', async () => {
      if (said.includes('projection caught up with the others and joined them')) return true;
      await s.append(['e'], 1);
      return undefined;
    });
    await s.append(['a', 'e'], 3);
    await runner.waitFor(s.lastSeq);
    const all = [...s.expected.values()].flat().sort((x, y) => x - y);
    await eventually('the newcomer to have every event', () =>
      applied.length >= all.length ? true : undefined,
    );
    expect(applied).toEqual(all);
    await s.expectExactlyOnce();
  });

  it('dead-letters an event one projection keeps failing on, for that projection only, after its attempts; the others apply it and all go on', async () => {
    const s = scenario();
    let fixed = false;
    const search = flaky(`${s.name}-search`, (reason) =>
      reason === 'step 4' && !fixed ? new RangeError('tsvector too long for step 4') : undefined,
    );
    const runner = new ProjectionRunner(
      bus,
      db,
      [countingProjection(s.name), search.projection],
      deadLetters,
      {
        filterSubject: subjects.projectEvents(bus.topology, s.project),
        maxDeliver: 3,
        retryDelays: quick,
      },
    );
    running.push(runner);
    await runner.start();
    await s.append(['a', 'b', 'c'], 9);
    await runner.waitFor(s.lastSeq);

    // The counting projection has every event; the search projection all but the one it failed on.
    await s.expectExactlyOnce();
    const all = [...s.expected.values()].flat().sort((x, y) => x - y);
    const poison = all[4]!;
    expect(search.applied).toEqual(all.filter((seq) => seq !== poison));
    const consumer = `projection:${search.projection.name}`;
    const [letter, ...others] = await deadLetters.list(consumer);
    expect(others).toEqual([]);
    expect(letter).toMatchObject({
      seq: poison,
      reason: 'max_deliveries',
      eventType: 'job.cancelled',
    });
    expect(letter!.error).toBe('gave up after 3 attempts: tsvector too long for step 4');
    expect(letters.get(consumer)).toEqual(['max_deliveries']);
    expect(await deadLetters.list(`projection:${s.name}`)).toEqual([]);

    // Fixed and redriven: the projection is rebuilt from the log, that event included.
    fixed = true;
    const redriven = await deadLetters.redrive({ ids: [letter!.id], limit: 10 });
    expect(redriven.redriven).toEqual([
      { id: letter!.id, consumer, seq: poison, subject: letter!.subject, how: 'replay' },
    ]);
    await eventually('the letter to be gone', async () =>
      (await deadLetters.list(consumer)).length === 0 ? true : undefined,
    );
    expect(search.applied).toEqual(all);
    await s.expectExactlyOnce();
  });
});

describe('replay beside the live read model', () => {
  it('keeps serving the live model until the rebuilt one is swapped in, says how far it got, and refuses a second one', async () => {
    const s = scenario();
    const runner = s.runner({ batchSize: 5 });
    await runner.start();
    await s.append(['a', 'b', 'c', 'd'], 200);
    await runner.waitFor(s.lastSeq);
    const before = await s.documents();

    const started = await runner.beginReplay();
    expect(started).toMatchObject({ projection: s.name, status: 'running', total: s.lastSeq });
    await expect(runner.beginReplay()).rejects.toMatchObject({
      reason: 'REPLAY_RUNNING',
      message: expect.stringMatching(/A replay of '.*' is running \(\d+ of \d+ events/),
    });
    // Readers see the whole live model all along, never an empty or half-built one.
    let reads = 0;
    const done = await eventually('the replay to be swapped in', async () => {
      expect(await s.documents()).toEqual(before);
      reads += 1;
      const status = await runner.replayStatus(s.name);
      return status?.status === 'succeeded' ? status : undefined;
    });
    expect(reads).toBeGreaterThan(0);
    expect(done).toMatchObject({ done: s.lastSeq, total: s.lastSeq, documents: 4, error: null });
    expect(await s.documents()).toEqual(before);
    await s.expectExactlyOnce();
    // Nothing of the build is left beside the live model.
    const leftovers = await db.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM "${schema}".projection_documents WHERE projection LIKE '%~replay'`,
    );
    expect(leftovers).toEqual([{ n: 0 }]);
  });

  it('misses no event appended during the replay, with two replicas applying the live model', async () => {
    const s = scenario();
    const one = s.runner({ batchSize: 3 });
    const two = s.runner({ batchSize: 3 });
    await one.start();
    await two.start();
    await s.append(['a', 'b', 'c'], 60);
    await one.waitFor(s.lastSeq);

    const replay = one.replay();
    await s.appendInParallel(['a', 'b', 'c', 'd'], 80);
    await replay;
    await two.waitFor(s.lastSeq);
    await one.waitFor(s.lastSeq);
    await eventually('both replicas to have applied everything', async () =>
      (await s.checkpoint()) === s.lastSeq ? true : undefined,
    );
    await s.expectExactlyOnce();
  });

  it('is finished by another process when the one building it stops half-way', async () => {
    const s = scenario();
    const first = s.runner({ batchSize: 2, replayStaleSeconds: 1 });
    await first.start();
    await s.appendInParallel(['a', 'b'], 2_000);
    await first.waitFor(s.lastSeq);
    const before = await s.documents();

    await first.beginReplay();
    await eventually(
      'the build to be under way',
      async () => {
        const [row] = await db.query<{ last_seq: string }[]>(
          `SELECT last_seq FROM "${schema}".projection_checkpoints WHERE projection = $1`,
          [`${s.name}~replay`],
        );
        return Number(row?.last_seq ?? 0) > 0 ? true : undefined;
      },
      // The safety net (not a performance assertion): 20 s ran out once in CI, on a machine busy
      // with the whole suite and four other test runs.
      60_000,
      5,
    );
    // Its process goes away mid-replay (its heartbeat stops with it).
    await first.stop();
    expect((await first.replayStatus(s.name))?.status).toBe('running');

    const second = s.runner({ replayStaleSeconds: 1 });
    await second.start();
    const done = await eventually(
      'the replay to be taken over and swapped in',
      async () => {
        const status = await second.replayStatus(s.name);
        return status?.status === 'succeeded' ? status : undefined;
      },
      60_000,
    );
    expect(done.documents).toBe(2);
    expect(await s.documents()).toEqual(before);
    await s.expectExactlyOnce();
  });
});
