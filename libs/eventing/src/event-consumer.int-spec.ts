import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { AckPolicy, DeliverPolicy } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import {
  AcaiError,
  CommonProblems,
  isolatedTopology,
  subjects,
  type StoredEvent,
} from '@acai/contracts';
import { eventually, testEnv, uniqueTag } from '@acai/testkit';
import {
  connectBus,
  deleteStreams,
  ensureDurableConsumer,
  ensureStreams,
  type Bus,
} from './bus.js';
import { PostgresDeadLetters } from './dead-letters.js';
import { HandleLater, NonRetryableError } from './errors.js';
import { EventConsumer, type EventConsumerOptions } from './event-consumer.js';
import { EventStore } from './event-store.js';
import type { ConsumerMonitor } from './monitor.js';
import { eventingEntities } from './storage.entities.js';
import { eventingMigrations } from './storage.migration.js';

const tag = uniqueTag();
const schema = `it_${tag}`;
let bus: Bus;
let db: DataSource;
let deadLetters: PostgresDeadLetters;
let store: EventStore;
const running: EventConsumer[] = [];

/** What the consumers reported, by consumer: as the platform's metrics would count it. */
const reported = new Map<
  string,
  { waiting: number; mostWaiting: number; retried: number; deadLettered: string[] }
>();
const monitor: ConsumerMonitor = {
  waiting: (consumer, delta) => {
    const r = report(consumer);
    r.waiting += delta;
    r.mostWaiting = Math.max(r.mostWaiting, r.waiting);
  },
  retried: (consumer) => void report(consumer).retried++,
  deadLettered: (consumer, reason) => void report(consumer).deadLettered.push(reason),
};
function report(consumer: string) {
  let r = reported.get(consumer);
  if (r === undefined) {
    r = { waiting: 0, mostWaiting: 0, retried: 0, deadLettered: [] };
    reported.set(consumer, r);
  }
  return r;
}

/** Waits between tries, shortened: the rules are the same, a test need not wait seconds. */
const quick = { firstMs: 5, maxMs: 50 };

beforeAll(async () => {
  const { natsUrl, databaseUrl } = testEnv();
  bus = await connectBus({
    url: natsUrl,
    name: 'event-consumer-it',
    topology: isolatedTopology(tag),
  });
  await ensureStreams(bus);
  db = await openSchema(databaseUrl, schema);
  deadLetters = new PostgresDeadLetters(db, { monitor });
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
    migrations: eventingMigrations,
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

  it('hands an event that is not due back to JetStream, which delivers it again after the delay, even to a consumer started since', async () => {
    const s = scenario();
    const deliveredAt: number[] = [];
    const handled: string[] = [];
    const isLater = (event: StoredEvent) =>
      event.type === 'job.cancelled' && event.data.reason === 'later';
    const first = await s.consumer(async (event) => {
      if (!isLater(event)) return void handled.push(event.id);
      deliveredAt.push(Date.now());
      throw new HandleLater(1_500);
    });
    const later = await s.append('a', 'later');
    const other = await s.append('b', 'now');
    // The other event is handled meanwhile (the wait holds up nothing else), before the restart:
    // stopped while it was in hand, it would come back only after the ack wait.
    await eventually('the event to be handed back, and the other one handled', () =>
      deliveredAt.length > 0 && handled.includes(other.id) ? true : undefined,
    );
    // The service restarts meanwhile: JetStream, not the process, holds the wait.
    await first.stop();
    running.splice(running.indexOf(first), 1);
    await s.consumer(async (event) => {
      if (isLater(event)) deliveredAt.push(Date.now());
      handled.push(event.id);
    });
    await eventually('the event to be delivered again', () =>
      handled.includes(later.id) ? true : undefined,
    );
    expect(handled).toContain(other.id);
    expect(deliveredAt).toHaveLength(2);
    expect(deliveredAt[1]! - deliveredAt[0]!).toBeGreaterThanOrEqual(1_400);
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
  it('waits out a dependency that is down for longer than its attempts would last, then handles the event; nothing is dead-lettered', async () => {
    const s = scenario();
    let catalogUp = false;
    let refused = 0;
    const handled: string[] = [];
    await s.consumer(
      async (event) => {
        if (event.type === 'job.cancelled' && event.data.reason === 'needs the catalog') {
          if (!catalogUp) {
            refused++;
            throw new AcaiError(
              CommonProblems.SERVICE_UNAVAILABLE,
              'The catalog service is not running (no one answers catalog.get_version)',
            );
          }
        }
        if (event.type === 'job.cancelled') handled.push(event.data.reason);
      },
      { maxDeliver: 3, retryDelays: quick },
    );

    const waiting = await s.append('a', 'needs the catalog');
    await s.append('b', 'independent');
    // Four times as many tries as its attempts allow, and another aggregate is not held up.
    await eventually('the event to be refused 12 times', () => (refused >= 12 ? true : undefined));
    expect(handled).toEqual(['independent']);
    expect(report(s.durable)).toMatchObject({ waiting: 1, deadLettered: [] });
    catalogUp = true;

    await eventually('the waiting event to be handled', () =>
      handled.includes('needs the catalog') ? true : undefined,
    );
    await s.settled();
    expect(await deadLetters.list(s.durable)).toEqual([]);
    expect(report(s.durable)).toMatchObject({ waiting: 0, mostWaiting: 1, deadLettered: [] });
    expect(report(s.durable).retried).toBe(refused);
    const info = await bus.jsm.consumers.info(bus.topology.streams.events, s.durable);
    expect(info.delivered.stream_seq).toBeGreaterThanOrEqual(waiting.position.seq);
  });

  it('keeps the events queued behind a waiting one in progress, so JetStream does not deliver them again', async () => {
    const s = scenario();
    let up = false;
    const handled: string[] = [];
    let firstRefusal = 0;
    await s.consumer(
      async (event) => {
        if (event.type === 'job.cancelled' && event.data.reason === 'first' && !up) {
          firstRefusal ||= Date.now();
          throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
            code: 'ECONNREFUSED',
          });
        }
        handled.push(event.type === 'job.cancelled' ? event.data.reason : event.type);
      },
      { ackWaitMs: 1_000, retryDelays: quick },
    );

    await s.append('a', 'first');
    await s.append('a', 'second');
    // Down for three ack waits: the second event sat behind the first all along.
    await eventually('three ack waits to pass', () =>
      firstRefusal > 0 && Date.now() - firstRefusal > 3_000 ? true : undefined,
    );
    expect(handled).toEqual([]);
    up = true;

    await eventually('both events to be handled', () => (handled.length === 2 ? true : undefined));
    expect(handled).toEqual(['first', 'second']);
    await s.settled();
    const info = await bus.jsm.consumers.info(bus.topology.streams.events, s.durable);
    expect(info.num_redelivered).toBe(0);
  });

  it('dead-letters a message delivered again and again without being settled (its handler kills the service), before handling it', async () => {
    const s = scenario();
    const stream = bus.topology.streams.events;
    await ensureDurableConsumer(bus, stream, {
      durable_name: s.durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: subjects.projectEvents(bus.topology, s.project),
      ack_wait: nanos(30_000),
      max_deliver: -1,
    });
    const killer = await s.append('a', 'kills its handler');
    // Six services in a row took it and died before settling it.
    const raw = await bus.js.consumers.get(stream, s.durable);
    for (let delivery = 1; delivery <= 6; delivery++) {
      const msg = await raw.next({ expires: 5_000 });
      expect(msg?.info.deliveryCount).toBe(delivery);
      msg!.nak();
    }
    const next = await s.append('a', 'fine');

    const handled: string[] = [];
    await s.consumer(async (event) => void handled.push(event.id), { maxDeliver: 2 });
    await eventually('the next event to be handled', () =>
      handled.includes(next.id) ? true : undefined,
    );

    expect(handled).toEqual([next.id]);
    const letters = await deadLetters.list(s.durable);
    expect(letters.map((l) => ({ seq: l.seq, reason: l.reason, type: l.eventType }))).toEqual([
      { seq: killer.position.seq, reason: 'max_redeliveries', type: 'job.cancelled' },
    ]);
    expect(letters[0]!.error).toMatch(/delivered 7 times and never settled/);
    expect(report(s.durable).deadLettered).toEqual(['max_redeliveries']);
    await s.settled();
  });

  it('takes away the max_deliver of a durable made by an earlier release, so JetStream never drops a message', async () => {
    const s = scenario();
    await ensureDurableConsumer(bus, bus.topology.streams.events, {
      durable_name: s.durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: subjects.projectEvents(bus.topology, s.project),
      max_deliver: 9,
    });
    await s.consumer(async () => undefined);
    const info = await bus.jsm.consumers.info(bus.topology.streams.events, s.durable);
    expect(info.config.max_deliver).toBe(-1);
  });

  it('dead-letters a message that fails every attempt, and handles it when redriven once the handler is fixed', async () => {
    const s = scenario();
    let fixed = false;
    const calls: string[] = [];
    const handled: string[] = [];
    await s.consumer(
      async (event) => {
        calls.push(event.id);
        if (event.type === 'job.cancelled' && event.data.reason === 'poison' && !fixed) {
          throw new TypeError("Cannot read properties of undefined (reading 'pool')");
        }
        handled.push(event.id);
      },
      { maxDeliver: 3, retryDelays: quick },
    );

    const poison = await s.append('a', 'poison');
    const next = await s.append('a', 'fine');
    await eventually('the next event to be handled', () =>
      handled.includes(next.id) ? true : undefined,
    );
    expect(calls.filter((id) => id === poison.id)).toHaveLength(3);
    const [letter, ...others] = await deadLetters.list(s.durable);
    expect(others).toEqual([]);
    expect(letter).toMatchObject({
      seq: poison.position.seq,
      reason: 'max_deliveries',
      eventType: 'job.cancelled',
      redrives: 0,
      redrivingSince: null,
    });
    expect(letter!.error).toMatch(/gave up after 3 attempts: Cannot read properties/);
    await s.settled();

    // Redriven while still broken: it fails its attempts again and stays, redriven once.
    const again = await deadLetters.redrive({ ids: [letter!.id], limit: 10 });
    expect(again.redriven).toEqual([
      {
        id: letter!.id,
        consumer: s.durable,
        seq: poison.position.seq,
        subject: poison.position.subject,
        how: 'handle',
      },
    ]);
    await eventually('the letter to be back, redriven once', async () => {
      const [back] = await deadLetters.list(s.durable);
      return back?.redrives === 1 && back.redrivingSince === null ? back : undefined;
    });
    expect(calls.filter((id) => id === poison.id)).toHaveLength(6);

    fixed = true;
    const redriven = await deadLetters.redrive({ consumer: s.durable, limit: 10 });
    expect(redriven.redriven.map((l) => l.id)).toEqual([letter!.id]);
    expect(redriven.remaining).toBe(0);
    await eventually('the letter to be gone', async () =>
      (await deadLetters.list(s.durable)).length === 0 ? true : undefined,
    );
    expect(handled).toEqual([next.id, poison.id]);
    expect(report(s.durable).deadLettered).toEqual(['max_deliveries', 'max_deliveries']);
  });

  it('lets one replica claim a letter: asked at once, the other is told it is being redriven', async () => {
    const s = scenario();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let broken = true;
    await s.consumer(
      async (event) => {
        if (event.type === 'job.cancelled' && event.data.reason === 'poison') {
          if (broken) throw new NonRetryableError('rejected_by_test', 'never');
          await gate;
        }
      },
      { maxDeliver: 1 },
    );
    await s.append('a', 'poison');
    const [letter] = await eventually('the letter', async () => {
      const letters = await deadLetters.list(s.durable);
      return letters.length > 0 ? letters : undefined;
    });
    broken = false;

    const [first, second] = await Promise.all([
      deadLetters.redrive({ ids: [letter!.id], limit: 1 }),
      deadLetters.redrive({ ids: [letter!.id], limit: 1 }),
    ]);
    const outcomes = [first, second].map((r) =>
      r.redriven.length > 0 ? 'redriven' : (r.refused[0]?.why ?? 'nothing'),
    );
    expect(outcomes.sort()).toEqual(['redriven', 'redriving']);
    const [listed] = await deadLetters
      .page({ consumer: s.durable, limit: 10 })
      .then((p) => p.items);
    expect(listed?.redrivingSince).not.toBeNull();

    release();
    await eventually('the letter to be gone', async () =>
      (await deadLetters.list(s.durable)).length === 0 ? true : undefined,
    );
  });
});
