import { describe, expect, it } from '@jest/globals';
import type { NewEvent } from '@acai/contracts';
import { AggregateRepository, decisionIds } from './aggregates.js';
import { InMemoryEventLog } from './testing.js';

const cancelled = (reason: string): NewEvent => ({ type: 'job.cancelled', data: { reason } });

describe('decisionIds', () => {
  it('gives the same decision the same ids, and any other decision other ones', () => {
    const once = decisionIds('cause-1', 'acai.evt.p.job.j1', 4, [cancelled('a'), cancelled('b')]);
    expect(
      decisionIds('cause-1', 'acai.evt.p.job.j1', 4, [cancelled('a'), cancelled('b')]),
    ).toEqual(once);
    expect(new Set(once).size).toBe(2);
    for (const other of [
      decisionIds('cause-2', 'acai.evt.p.job.j1', 4, [cancelled('a')]),
      decisionIds('cause-1', 'acai.evt.p.job.j2', 4, [cancelled('a')]),
      decisionIds('cause-1', 'acai.evt.p.job.j1', 5, [cancelled('a')]),
      decisionIds('cause-1', 'acai.evt.p.job.j1', 4, [
        { type: 'job.started', data: { executor: 'e', attempt: 1, pid: null } },
      ]),
    ]) {
      expect(other[0]).not.toBe(once[0]);
    }
    expect(once[0]).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });
});

describe('AggregateRepository.execute', () => {
  it('stores a decision made again after a lost acknowledgement once', async () => {
    const log = new InMemoryEventLog();
    const repository = new AggregateRepository<number>(log, 'job', {
      initialState: () => 0,
      evolve: (n) => n + 1,
    });
    // The same decision from the same cause on the same version, as a retried handler makes it
    // when the first append was stored but its acknowledgement never came back.
    const decide = () => [cancelled('run cancelled')];
    const first = await repository.execute('p', 'j1', decide, { causationId: 'evt-1' });
    repository.forget('p', 'j1');
    const ids = decisionIds('evt-1', log.subjectOf(repository.ref('p', 'j1')), 0, decide());
    expect(first.events.map((e) => e.id)).toEqual(ids);
    await log.append(repository.ref('p', 'j1'), decide(), {
      expectedVersion: 'any',
      eventIds: ids,
    });
    expect((await log.read(repository.ref('p', 'j1'))).events).toHaveLength(1);
  });

  it('makes a decision to do nothing again on the log as it is, not on a stale cache', async () => {
    const log = new InMemoryEventLog();
    const repository = new AggregateRepository<number>(log, 'job', {
      initialState: () => 0,
      evolve: (n) => n + 1,
    });
    // The cache knows one event; another writer appends a second, which it has not seen.
    await repository.execute('p', 'j1', () => [cancelled('first')]);
    await log.append(repository.ref('p', 'j1'), [cancelled('second')], { expectedVersion: 'any' });
    // Acting on the second event: with the stale state (1) there would be nothing to do.
    const acted = await repository.execute('p', 'j1', (n) => (n >= 2 ? [cancelled('third')] : []));
    expect(acted.events).toHaveLength(1);
    expect((await log.read(repository.ref('p', 'j1'))).events).toHaveLength(3);
  });

  it('makes decisions on one aggregate one after another: the second sees the first, with no conflict', async () => {
    const log = new InMemoryEventLog();
    const appends: number[] = [];
    const counting = {
      subjectOf: (ref: Parameters<typeof log.subjectOf>[0]) => log.subjectOf(ref),
      read: (ref: Parameters<typeof log.read>[0], after?: number) => log.read(ref, after),
      append: async (...args: Parameters<typeof log.append>) => {
        appends.push(args[1].length);
        // Slow enough for the other decision to start meanwhile, were it not held back.
        await new Promise((r) => setTimeout(r, 5));
        return log.append(...args);
      },
    };
    const repository = new AggregateRepository<number>(counting, 'job', {
      initialState: () => 0,
      evolve: (n) => n + 1,
    });
    await repository.execute('p', 'j1', () => [cancelled('first')]);
    // Two handlers at once, each acting only on the state the other has not made yet.
    const [a, b] = await Promise.all([
      repository.execute('p', 'j1', (n) => (n === 1 ? [cancelled('a'), cancelled('a2')] : [])),
      repository.execute('p', 'j1', (n) => (n === 3 ? [] : [cancelled('b')])),
    ]);
    expect(a.events).toHaveLength(2);
    expect(b.events).toHaveLength(0);
    expect(b.state).toBe(3);
    // No append was refused and made again: each decision was made once, on the latest state.
    expect(appends).toEqual([1, 2]);
    // Another aggregate is not held back by them.
    expect((await repository.execute('p', 'j2', () => [cancelled('c')])).events).toHaveLength(1);
  });
});
