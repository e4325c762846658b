import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { isolatedTopology, subjects, type StoredEvent } from '@acai/contracts';
import { eventually, testEnv, uniqueTag } from '@acai/testkit';
import { connectBus, deleteStreams, ensureStreams, type Bus } from './bus.js';
import { PostgresDeadLetters } from './dead-letters.js';
import { NonRetryableError } from './errors.js';
import { EventConsumer, type EventConsumerOptions } from './event-consumer.js';
import { EventStore } from './event-store.js';
import { eventingEntities } from './storage.entities.js';
import { EventingTables1764115200000 } from './storage.migration.js';

const tag = uniqueTag();
const schema = `it_${tag}`;
let bus: Bus;
let db: DataSource;
let deadLetters: PostgresDeadLetters;
let store: EventStore;
const running: EventConsumer[] = [];

beforeAll(async () => {
  const { natsUrl, databaseUrl } = testEnv();
  bus = await connectBus({
    url: natsUrl,
    name: 'event-consumer-it',
    topology: isolatedTopology(tag),
  });
  await ensureStreams(bus);
  db = await openSchema(databaseUrl, schema);
  deadLetters = new PostgresDeadLetters(db);
  store = new EventStore(bus);
});

afterEach(async () => {
  for (const consumer of running.splice(0)) await consumer.stop();
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
    migrations: [EventingTables1764115200000],
    logging: false,
  });
  await dataSource.initialize();
  await dataSource.query(`CREATE SCHEMA IF NOT EXISTS "${name}"`);
  await dataSource.runMigrations({ transaction: 'each' });
  return dataSource;
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

/** A consumer of its own over a project of its own, so tests never see each other's events. */
function scenario() {
  const project = `p${uniqueTag()}`;
  const durable = `it-${project}`;
  return {
    project,
    durable,
    ref: (id: string) => ({ project, aggregate: 'job', id }),
    async consumer(
      handle: EventConsumerOptions['handle'],
      options: Partial<EventConsumerOptions> = {},
    ): Promise<EventConsumer> {
      const consumer = new EventConsumer(bus, {
        durable,
        filterSubject: subjects.projectEvents(bus.topology, project),
        accepts: () => true,
        handle,
        deadLetters,
        ...options,
      });
      running.push(consumer);
      await consumer.start();
      return consumer;
    },
    async append(id: string, reason: string): Promise<StoredEvent> {
      const event = { type: 'job.cancelled', data: { reason } } as const;
      const [stored] = await store.append({ project, aggregate: 'job', id }, [event], {
        expectedVersion: 'any',
      });
      return stored!;
    },
    /**
     * Every message was settled for good: acknowledged, or terminated after being dead-lettered.
     * One left pending would be delivered again once its ack wait runs out.
     */
    async settled(): Promise<void> {
      await eventually('every message to be settled', async () => {
        const info = await bus.jsm.consumers.info(bus.topology.streams.events, durable);
        if (info.num_ack_pending === 0 && info.num_pending === 0) return true;
        throw new Error(
          `${info.num_ack_pending} message(s) delivered but neither acknowledged nor terminated, ${info.num_pending} not yet delivered`,
        );
      });
    },
  };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('EventConsumer', () => {
  it('handles the events of one aggregate one after another, in order, and aggregates in parallel', async () => {
    const s = scenario();
    const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
    const expected = new Map<string, number[]>();
    const seen = new Map<string, number[]>();
    const active = new Set<string>();
    const overlaps: string[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    await s.consumer(
      async (event) => {
        const subject = event.position.subject;
        if (active.has(subject)) overlaps.push(`${subject}#${event.position.seq}`);
        active.add(subject);
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        await pause(Math.random() * 15);
        seen.set(subject, [...(seen.get(subject) ?? []), event.position.seq]);
        inFlight--;
        active.delete(subject);
      },
      { concurrency: 8 },
    );

    // Each aggregate's events are written in order; the aggregates interleave in the log.
    await Promise.all(
      ids.map(async (id) => {
        for (let i = 0; i < 8; i++) {
          const event = await s.append(id, `${id} ${i}`);
          const list = expected.get(event.position.subject) ?? [];
          expected.set(event.position.subject, [...list, event.position.seq]);
        }
      }),
    );
    await eventually('all 48 events to be handled', () =>
      [...seen.values()].flat().length >= 48 ? true : undefined,
    );

    expect(new Map([...seen].sort())).toEqual(new Map([...expected].sort()));
    expect(overlaps).toEqual([]);
    expect(maxInFlight).toBeGreaterThan(1);
    await s.settled();
  });

  it('dead-letters an event whose handler throws NonRetryableError, with its reason, and handles the next', async () => {
    const s = scenario();
    const calls: string[] = [];
    await s.consumer(async (event) => {
      calls.push(event.id);
      if (event.type === 'job.cancelled' && event.data.reason === 'poison') {
        throw new NonRetryableError('rejected_by_test', 'this event can never be handled');
      }
    });

    const poison = await s.append('a', 'poison');
    const next = await s.append('a', 'fine');
    await eventually('the next event to be handled', () =>
      calls.includes(next.id) ? true : undefined,
    );

    const letters = (await deadLetters.list(s.durable)).sort((a, b) => a.seq - b.seq);
    expect(letters.map((l) => ({ seq: l.seq, reason: l.reason, error: l.error }))).toEqual([
      {
        seq: poison.position.seq,
        reason: 'rejected_by_test',
        error: 'this event can never be handled',
      },
    ]);
    // Not retried: handled once, then given up on for good.
    expect(calls).toEqual([poison.id, next.id]);
    await s.settled();
  });

  it('dead-letters messages it cannot decode, with their reason, and handles the next event', async () => {
    const s = scenario();
    const handled: number[] = [];
    await s.consumer(async (event) => void handled.push(event.position.seq));
    const subject = store.subjectOf(s.ref('a'));

    const bad = await bus.js.publish(subject, garbage);
    const unknown = await bus.js.publish(subject, unknownEnvelope(s.ref('a')));
    const next = await s.append('a', 'fine');
    await eventually('the next event to be handled', () =>
      handled.includes(next.position.seq) ? true : undefined,
    );

    const letters = (await deadLetters.list(s.durable)).sort((a, b) => a.seq - b.seq);
    expect(letters.map((l) => ({ seq: l.seq, subject: l.subject, reason: l.reason }))).toEqual([
      { seq: bad.seq, subject, reason: 'undecodable' },
      { seq: unknown.seq, subject, reason: 'unknown_version' },
    ]);
    expect(handled).toEqual([next.position.seq]);
    await s.settled();
  });

  it('retries an event whose handler fails once, and does not dead-letter it', async () => {
    const s = scenario();
    const attempts = new Map<string, number>();
    const done: string[] = [];
    await s.consumer(async (event) => {
      const n = (attempts.get(event.id) ?? 0) + 1;
      attempts.set(event.id, n);
      if (event.type === 'job.cancelled' && event.data.reason === 'flaky' && n === 1) {
        throw new Error('database briefly unavailable');
      }
      done.push(event.id);
    });

    const flaky = await s.append('a', 'flaky');
    const other = await s.append('b', 'steady');
    await eventually('the flaky event to be handled on its second delivery', () =>
      done.includes(flaky.id) ? true : undefined,
    );

    expect(attempts.get(flaky.id)).toBe(2);
    expect(attempts.get(other.id)).toBe(1);
    await s.settled();
    expect(await deadLetters.list(s.durable)).toEqual([]);
  });

  it('does not let a later event of the same aggregate overtake one that is being retried', async () => {
    const s = scenario();
    const attempts = new Map<string, number>();
    const done: number[] = [];
    await s.consumer(async (event) => {
      const n = (attempts.get(event.id) ?? 0) + 1;
      attempts.set(event.id, n);
      if (event.type === 'job.cancelled' && event.data.reason === 'flaky' && n === 1) {
        throw new Error('database briefly unavailable');
      }
      done.push(event.position.seq);
    });

    const flaky = await s.append('a', 'flaky');
    const later = await s.append('a', 'later');
    await eventually('both events to be handled', () => (done.length >= 2 ? true : undefined));

    expect(done).toEqual([flaky.position.seq, later.position.seq]);
  });
});
