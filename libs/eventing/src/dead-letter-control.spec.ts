import { describe, expect, it } from '@jest/globals';
import type { BusService, DeadLetterPageReply, DeadLetterView } from '@acai/contracts';
import { mergePages } from './dead-letter-control.js';

/** A letter of `service` created at second `s` (ids in the same order as times, for reading). */
function letter(service: BusService, s: number, id = s): DeadLetterView {
  return {
    id: `00000000-0000-4000-8000-${String(id).padStart(12, '0')}`,
    service,
    consumer: `${service}-job`,
    stream: 'ACAI_EVENTS',
    seq: s,
    subject: 'acai.evt.p.job.j',
    type: 'job.queued',
    reason: 'max_deliveries',
    error: 'boom',
    createdAt: `2026-12-03T10:00:${String(s).padStart(2, '0')}.000000Z`,
    redrives: 0,
    redrivingSince: null,
    payloadBytes: 100,
  };
}

function page(service: BusService, seconds: number[], more: boolean, total = seconds.length) {
  return {
    service,
    items: seconds.map((s) => letter(service, s)),
    total,
    more,
  } satisfies DeadLetterPageReply;
}

const at = (items: DeadLetterView[]) => items.map((i) => `${i.service}@${i.seq}`);

describe('mergePages', () => {
  it('merges the services’ letters oldest first and counts them all', () => {
    const merged = mergePages(
      [page('scheduler', [1, 4], false), page('catalog', [2, 3], false)],
      10,
    );
    expect(at(merged.items)).toEqual(['scheduler@1', 'catalog@2', 'catalog@3', 'scheduler@4']);
    expect(merged.next).toBeNull();
    expect(merged.total).toBe(4);
  });

  it('cuts the page at the limit, and the next starts after its last letter', () => {
    const merged = mergePages(
      [page('scheduler', [1, 3], false), page('catalog', [2, 4], false)],
      3,
    );
    expect(at(merged.items)).toEqual(['scheduler@1', 'catalog@2', 'scheduler@3']);
    expect(merged.next).toEqual({
      createdAt: letter('scheduler', 3).createdAt,
      id: letter('scheduler', 3).id,
    });
  });

  it('ends a page where a service that has more stopped, so the next page skips none of its letters', () => {
    // The scheduler sent two of its letters (a page cut short by size) and has more, from second 6
    // on perhaps: the catalog's letter of second 9 waits for the next page.
    const merged = mergePages(
      [page('scheduler', [1, 5], true, 7), page('catalog', [2, 9], false)],
      10,
    );
    expect(at(merged.items)).toEqual(['scheduler@1', 'catalog@2', 'scheduler@5']);
    expect(merged.next?.createdAt).toBe(letter('scheduler', 5).createdAt);
    expect(merged.total).toBe(9);
  });

  it('orders letters of the same microsecond by id', () => {
    const a = { ...letter('gateway', 1, 2) };
    const b = { ...letter('provenance', 1, 1) };
    const merged = mergePages(
      [
        { service: 'gateway', items: [a], total: 1, more: false },
        { service: 'provenance', items: [b], total: 1, more: false },
      ],
      10,
    );
    expect(merged.items.map((i) => i.service)).toEqual(['provenance', 'gateway']);
  });

  it('has nothing to show when no service has letters', () => {
    expect(mergePages([page('executor', [], false)], 50)).toEqual({
      items: [],
      next: null,
      total: 0,
    });
  });
});
