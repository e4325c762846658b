import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { subjects, type Projection } from '@acai/contracts';
import { eventually, uniqueTag } from '@acai/testkit';
import {
  cancelled,
  garbage,
  openEventingWithDb,
  queued,
  recordingLogger,
  unknownEnvelope,
  type EventingDbFixture,
} from '../../../test/support/eventing.js';
import { EventStore } from './event-store.js';
import { ProjectionRunner, type ProjectionRunnerOptions } from './projection-runner.js';
import { ProjectionCheckpointEntity, ProjectionDocumentEntity } from './storage.entities.js';

// jest applies only a top-level testTimeout, not the integration project's; waits here can exceed 5 s.
jest.setTimeout(60_000);

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

let fx: EventingDbFixture;
let store: EventStore;
const running: ProjectionRunner<Counted>[] = [];

beforeAll(async () => {
  fx = await openEventingWithDb('projection-runner-it');
  store = new EventStore(fx.bus);
});

afterEach(async () => {
  for (const runner of running.splice(0)) await runner.stop();
});

afterAll(async () => {
  await fx?.close();
});

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
      const runner = new ProjectionRunner(fx.bus, fx.db, countingProjection(name), fx.deadLetters, {
        filterSubject: subjects.projectEvents(fx.bus.topology, project),
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
        Array.from({ length: count }, (_, i) =>
          store.append(
            { project, aggregate: 'job', id: ids[i % ids.length]! },
            [cancelled(`p${i}`)],
            {
              expectedVersion: 'any',
            },
          ),
        ),
      );
      for (const [event] of stored.sort((a, b) => a[0]!.position.seq - b[0]!.position.seq)) {
        const id = event!.aggregateId;
        expected.set(id, [...(expected.get(id) ?? []), event!.position.seq]);
        lastSeq = Math.max(lastSeq, event!.position.seq);
      }
    },
    async documents(): Promise<Map<string, Counted>> {
      const rows = await fx.db
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
      const row = await fx.db
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

    const table = `"${fx.schema}".projection_documents`;
    await fx.db.query(`ALTER TABLE ${table} RENAME TO projection_documents_away`);
    try {
      await s.append(['a', 'b', 'c'], 9);
      await eventually('the runner to fail a batch', () =>
        logger.lines.some((l) => l.level === 'error') ? true : undefined,
      );
      // The failed batch moved nothing: neither the checkpoint nor the runner's position.
      expect(await s.checkpoint()).toBe(before);
      expect(runner.position).toBe(before);
    } finally {
      await fx.db.query(
        `ALTER TABLE "${fx.schema}".projection_documents_away RENAME TO projection_documents`,
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

  it('dead-letters undecodable and unknown events with their reason and applies the next event', async () => {
    const s = scenario();
    const runner = s.runner();
    await runner.start();
    const ref = { project: s.project, aggregate: 'job', id: 'a' };
    const subject = store.subjectOf(ref);

    const bad = await fx.bus.js.publish(subject, garbage);
    const unknown = await fx.bus.js.publish(subject, unknownEnvelope(ref));
    await s.append(['a'], 1);
    await runner.waitFor(s.lastSeq);

    await s.expectExactlyOnce();
    const letters = await fx.deadLetters.list(`projection:${s.name}`);
    expect(letters.map((l) => ({ seq: l.seq, subject: l.subject, reason: l.reason }))).toEqual([
      { seq: bad.seq, subject, reason: 'undecodable' },
      { seq: unknown.seq, subject, reason: 'unknown_version' },
    ]);
    // The message is kept as it was, for someone to look at.
    expect(new Uint8Array(letters[0]!.payload)).toEqual(garbage);
    expect(letters[1]!.error).toMatch(/job\.exploded v9/);
  });
});
