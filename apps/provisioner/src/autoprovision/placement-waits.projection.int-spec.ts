import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import type { EventData, StoredEvent } from '@acai/contracts';
import { PlacementWaits } from '@acai/provisioning';
import { eventLog, migratedSchema, queuedJob } from '@acai/testkit';
import { ProvisionerPlacementWaits1797400000000 } from './placement-waits.migration.js';
import { PlacementWaitsProjection } from './placement-waits.projection.js';

let schema: string;
let db: DataSource;
let drop: () => Promise<void> = () => Promise.resolve();

beforeAll(async () => {
  ({ db, schema, drop } = await migratedSchema('it_placement_waits', [
    ProvisionerPlacementWaits1797400000000,
  ]));
});

afterAll(async () => {
  await drop();
});

const BOOT_SECONDS = 60;
const provisioned: EventData<'job.provisioned'> = {
  provider: 'simulated',
  pool: 'sim',
  resources: { cpu: 2, memoryMb: 4096 },
  reason: 'chosen',
  offer: {
    provider: 'simulated',
    name: 'c5.large:spot',
    vCpu: 2,
    memoryMb: 4096,
    pricePerHour: 0.035,
  },
  decision: null,
};

/**
 * Jobs queued, placed on a simulated node that boots in 60 s, and started 0.1 s of real time later
 * on its clock at 1800x (180 s): each waited 120 s beyond the boot; job 3 is interrupted and
 * started again as its attempt 2, 0.2 s after it was requeued (300 s beyond the boot).
 */
function lives(): StoredEvent[] {
  const e = eventLog();
  const events: StoredEvent[] = [];
  const startedAfter = (queued: StoredEvent, ms: number, attempt: number) =>
    e('job.started', queued.aggregateId, {
      executor: 'sim-node',
      attempt,
      pid: null,
      clock: { rate: 1800, realAt: new Date(Date.parse(queued.occurredAt) + ms).toISOString() },
    });
  for (let i = 1; i <= 5; i++) {
    const queued = e('job.queued', `job-${i}`, queuedJob());
    events.push(queued, e('job.provisioned', `job-${i}`, provisioned));
    events.push(startedAfter(queued, 100, 1));
  }
  const requeued = e('job.requeued', 'job-3', { retry: 1 });
  events.push(requeued, e('job.provisioned', 'job-3', provisioned), startedAfter(requeued, 200, 2));
  // A job queued and placed but not started yet: it waits, and says nothing yet.
  events.push(e('job.queued', 'job-6', queuedJob()), e('job.provisioned', 'job-6', provisioned));
  return events;
}

/** The projection as the provisioner makes it, over a copy in memory of its own. */
const projection = () =>
  new PlacementWaitsProjection(schema, new PlacementWaits(), () => BOOT_SECONDS);

describe('the placement-waits projection', () => {
  it('measures each attempt’s wait beyond the boot, once however often the log is replayed', async () => {
    const live = projection();
    const events = lives();
    // Given the log applied, committed, then the same events again (a redelivery)
    for (let round = 0; round < 2; round++) {
      await db.transaction((m) => live.apply(m, events));
      live.committed({ after: 0, through: events.length, events });
    }
    // Then there are six waits (job 3's two attempts), job 6 still waits, and the margin is the
    // 90th percentile: 300 s on the simulated provider
    expect(await db.transaction((m) => live.count(m))).toBe(6);
    expect(live.waits.marginSeconds().simulated).toBeCloseTo(300, 3);
    const waiting = await db.query<{ job_id: string }[]>(
      `SELECT job_id FROM "${schema}".placement_waiting`,
    );
    expect(waiting.map((r) => r.job_id)).toEqual(['job-6']);
  });

  it('gives a restarted provisioner its margins at once, from the table', async () => {
    // Given a provisioner started again: nothing in memory
    const restarted = projection();
    expect(restarted.waits.marginSeconds()).toEqual({});
    // When it restores the projection before running it, it has the margins the log made
    await restarted.restore(db);
    expect(restarted.waits.marginSeconds().simulated).toBeCloseTo(300, 3);
  });

  it('keeps nothing in memory from a transaction that did not commit', async () => {
    const rolledBack = projection();
    const e = eventLog({ firstSeq: 900 });
    // Five waits, enough for a margin, in a transaction that fails
    const events = [1, 2, 3, 4, 5].flatMap((i) => [
      e('job.queued', `job-9${i}`, queuedJob()),
      e('job.provisioned', `job-9${i}`, provisioned),
      e('job.started', `job-9${i}`, { executor: 'sim-node', attempt: 1, pid: null }),
    ]);
    await expect(
      db.transaction(async (m) => {
        await rolledBack.apply(m, events);
        throw new Error('the commit failed');
      }),
    ).rejects.toThrow('the commit failed');
    // The next batch's transaction starts afresh: the wait it did not commit is not counted
    await db.transaction((m) => rolledBack.apply(m, []));
    rolledBack.committed({ after: 0, through: 0, events: [] });
    expect(rolledBack.waits.marginSeconds()).toEqual({});
  });
});
