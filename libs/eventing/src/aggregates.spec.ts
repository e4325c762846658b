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
});
