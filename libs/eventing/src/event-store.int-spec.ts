import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ErrorCode, isolatedTopology, type NewEvent } from '@acai/contracts';
import { testEnv, uniqueTag } from '@acai/testkit';
import { AggregateRepository } from './aggregates.js';
import { connectBus, deleteStreams, ensureStreams, type Bus } from './bus.js';
import { WrongExpectedVersionError } from './errors.js';
import { EventStore, type AggregateRef } from './event-store.js';

const project = 'p1';

let bus: Bus;
let store: EventStore;

beforeAll(async () => {
  bus = await connectBus({
    url: testEnv().natsUrl,
    name: 'event-store-it',
    topology: isolatedTopology(uniqueTag()),
  });
  await ensureStreams(bus);
  store = new EventStore(bus);
});

afterAll(async () => {
  if (bus === undefined) return;
  await deleteStreams(bus);
  await bus.close();
});

function cancelled(reason: string): NewEvent {
  return { type: 'job.cancelled', data: { reason } };
}

function job(): AggregateRef {
  return { project, aggregate: 'job', id: `job-${randomUUID()}` };
}

function reasons(events: readonly { type: string; data: unknown }[]): string[] {
  return events.map((e) => (e.data as { reason: string }).reason);
}

describe('EventStore: optimistic concurrency', () => {
  it('lets exactly one of two writers that read the same version append; the other gets CONFLICT', async () => {
    const ref = job();
    const [created] = await store.append(ref, [cancelled('first')], { expectedVersion: 0 });
    const { version } = await store.read(ref);
    expect(version).toBe(created!.position.seq);

    const results = await Promise.allSettled([
      store.append(ref, [cancelled('writer A')], { expectedVersion: version }),
      store.append(ref, [cancelled('writer B')], { expectedVersion: version }),
    ]);

    const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]).toBeInstanceOf(WrongExpectedVersionError);
    expect((lost[0] as WrongExpectedVersionError).code).toBe(ErrorCode.Conflict);

    const after = await store.read(ref);
    const winner = won[0]!;
    expect(reasons(after.events)).toEqual(['first', ...reasons(winner)]);
    expect(after.version).toBe(winner[0]!.position.seq);
  });

  it('lets exactly one of two writers create a new aggregate (expected version 0)', async () => {
    const ref = job();

    const results = await Promise.allSettled([
      store.append(ref, [cancelled('creator A')], { expectedVersion: 0 }),
      store.append(ref, [cancelled('creator B')], { expectedVersion: 0 }),
    ]);

    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const lost = results.find((r) => r.status === 'rejected');
    expect(lost?.reason).toBeInstanceOf(WrongExpectedVersionError);
    expect((await store.read(ref)).events).toHaveLength(1);
  });

  it('retries a losing AggregateRepository.execute so both decisions land, the second made on the first', async () => {
    // Two replicas of a service, each with its own repository and cache, sharing one log.
    type State = string[];
    const evolver = {
      initialState: (): State => [],
      evolve: (state: State, event: NewEvent): State =>
        event.type === 'job.cancelled' ? [...state, event.data.reason] : state,
    };
    const conflicts: unknown[] = [];
    const counting = new (class extends EventStore {
      override async append(...args: Parameters<EventStore['append']>) {
        try {
          return await super.append(...args);
        } catch (error) {
          conflicts.push(error);
          throw error;
        }
      }
    })(bus);
    const replicaA = new AggregateRepository(counting, 'job', evolver);
    const replicaB = new AggregateRepository(counting, 'job', evolver);
    const ref = job();
    await store.append(ref, [cancelled('created')], { expectedVersion: 0 });
    // Both replicas have the aggregate cached at the same version, so both decide on it at once.
    await replicaA.load(project, ref.id);
    await replicaB.load(project, ref.id);
    // Each decision records what it saw, so a decision made on a stale state shows in the log.
    const decide =
      (who: string) =>
      (state: State): NewEvent[] => [cancelled(`${who} after ${state.length}`)];

    const results = await Promise.allSettled([
      replicaA.execute(project, ref.id, decide('A')),
      replicaB.execute(project, ref.id, decide('B')),
    ]);

    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(conflicts).toHaveLength(1);
    expect(conflicts[0]).toBeInstanceOf(WrongExpectedVersionError);
    const { events, version } = await store.read(ref);
    expect([
      ['created', 'A after 1', 'B after 2'],
      ['created', 'B after 1', 'A after 2'],
    ]).toContainEqual(reasons(events));
    expect(version).toBe(events[2]!.position.seq);
    // The replica that retried knows the latest version, which is the log's.
    const versions = results.map((r) => (r.status === 'fulfilled' ? r.value.version : -1));
    expect(Math.max(...versions)).toBe(version);
  });
});

describe('EventStore: deduplication', () => {
  it('stores an event published twice with the same id once', async () => {
    const ref = job();
    const eventId = randomUUID();

    const first = await store.append(ref, [cancelled('once')], {
      expectedVersion: 'any',
      eventIds: [eventId],
    });
    const second = await store.append(ref, [cancelled('once')], {
      expectedVersion: 'any',
      eventIds: [eventId],
    });

    expect(second[0]!.position.seq).toBe(first[0]!.position.seq);
    const { events } = await store.read(ref);
    expect(events.map((e) => e.id)).toEqual([eventId]);
    const info = await bus.jsm.streams.info(bus.topology.streams.events, {
      subjects_filter: store.subjectOf(ref),
    });
    expect(info.state.subjects?.[store.subjectOf(ref)]).toBe(1);
  });
  it('stores a retried append (same ids, same expected version) once instead of reporting a conflict', async () => {
    // The writer's first attempt was stored but its acknowledgement was lost, so it tries again.
    const ref = job();
    const eventIds = [randomUUID(), randomUUID()];
    const events = [cancelled('one'), cancelled('two')];

    const first = await store.append(ref, events, { expectedVersion: 0, eventIds });
    const retry = await store.append(ref, events, { expectedVersion: 0, eventIds });

    expect(retry.map((e) => e.position.seq)).toEqual(first.map((e) => e.position.seq));
    const read = await store.read(ref);
    expect(read.events.map((e) => e.id)).toEqual(eventIds);
  });
});

describe('EventStore: read', () => {
  it('returns one aggregate’s events in order, with the version being the seq of its last event', async () => {
    const ref = job();
    const other = job();
    let version = 0;
    for (const step of ['one', 'two', 'three']) {
      const [mine] = await store.append(ref, [cancelled(step)], { expectedVersion: version });
      version = mine!.position.seq;
      // Another aggregate writes in between, so the aggregate's seqs are not contiguous.
      await store.append(other, [cancelled(`other ${step}`)], { expectedVersion: 'any' });
    }

    const read = await store.read(ref);

    expect(reasons(read.events)).toEqual(['one', 'two', 'three']);
    const seqs = read.events.map((e) => e.position.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(read.version).toBe(version);
    expect(read.version).toBe(seqs[2]);
    expect(read.events.every((e) => e.aggregateId === ref.id && e.project === project)).toBe(true);
  });

  it('reads only what came after a known version, and answers that version when nothing did', async () => {
    const ref = job();
    const [first] = await store.append(ref, [cancelled('one')], { expectedVersion: 0 });
    const known = first!.position.seq;
    await store.append(job(), [cancelled('someone else')], { expectedVersion: 'any' });

    expect(await store.read(ref, known)).toEqual({ events: [], version: known });

    const [second] = await store.append(ref, [cancelled('two')], { expectedVersion: known });
    const caughtUp = await store.read(ref, known);
    expect(reasons(caughtUp.events)).toEqual(['two']);
    expect(caughtUp.version).toBe(second!.position.seq);
  });

  it('catches a cached aggregate up with events another writer appended (refresh)', async () => {
    const ref = job();
    const repository = new AggregateRepository(store, 'job', {
      initialState: (): string[] => [],
      evolve: (state: string[], event) => [...state, (event.data as { reason: string }).reason],
    });
    await store.append(ref, [cancelled('one')], { expectedVersion: 0 });
    expect((await repository.load(project, ref.id)).state).toEqual(['one']);
    // Another process appends: the cache does not know, the log does.
    await store.append(ref, [cancelled('two')], { expectedVersion: 'any' });
    expect((await repository.load(project, ref.id)).state).toEqual(['one']);
    expect((await repository.refresh(project, ref.id)).state).toEqual(['one', 'two']);
    expect((await repository.load(project, ref.id)).state).toEqual(['one', 'two']);
  });

  it('returns version 0 and no events for an aggregate that has none', async () => {
    await store.append(job(), [cancelled('someone else')], { expectedVersion: 'any' });

    const read = await store.read(job());

    expect(read).toEqual({ events: [], version: 0 });
  });

  it('refuses an event larger than a bus message with MESSAGE_TOO_LARGE, not retryable, and stores nothing', async () => {
    const ref = job();
    const append = store.append(ref, [cancelled('x'.repeat(2 * 1024 * 1024))], {
      expectedVersion: 0,
    });
    await expect(append).rejects.toMatchObject({
      reason: 'MESSAGE_TOO_LARGE',
      retryable: false,
      message: expect.stringMatching(
        /job.cancelled event of job .* is \d+ bytes; a message of the bus holds at most/,
      ),
    });
    expect((await store.read(ref)).version).toBe(0);
  });
});
