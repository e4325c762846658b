import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import type { EventData, StoredEvent } from '@acai/contracts';
import { jobProfile } from '@acai/provisioning';
import { eventLog, migratedSchema, queuedJob } from '@acai/testkit';
import { ProvisionerAutoprovision1764400000000 } from './autoprovision.migration.js';
import { ProvisionerObservationsCheckpoints1797300000000 } from './observations-checkpoints.migration.js';
import { ProvisionerObservationsResumed1796800000000 } from './observations-resumed.migration.js';
import { ObservationsProjection } from './observations.projection.js';
import { ProvisionerProfilingInTheLog1764900000000 } from './profiling-in-the-log.migration.js';

let schema: string;
let db: DataSource;
let drop: () => Promise<void> = () => Promise.resolve();

beforeAll(async () => {
  ({ db, schema, drop } = await migratedSchema('it_observations', [
    ProvisionerAutoprovision1764400000000,
    ProvisionerProfilingInTheLog1764900000000,
    ProvisionerObservationsResumed1796800000000,
    ProvisionerObservationsCheckpoints1797300000000,
  ]));
});

afterAll(async () => {
  await drop();
});

const queued = queuedJob({
  env: { EPOCHS: '10' },
  provision: { sizeParameters: ['EPOCHS'] },
});
const provisioned: EventData<'job.provisioned'> = {
  provider: 'local',
  pool: 'local',
  resources: { cpu: 1, memoryMb: 1024 },
  reason: 'chosen',
  offer: {
    provider: 'local',
    name: 'local-1cpu-1024mb',
    vCpu: 1,
    memoryMb: 1024,
    pricePerHour: 0.04,
  },
  decision: null,
};
const started = (attempt: number): EventData<'job.started'> => ({
  executor: 'node-a',
  attempt,
  pid: null,
});

/** A job's life, ended by attempt `attempts` after `durationMs`, checkpointed in attempt 1 or not. */
function life(jobId: string, attempts: number, checkpointed: boolean): StoredEvent[] {
  const e = eventLog();
  return [
    e('job.queued', jobId, queued),
    e('job.provisioned', jobId, provisioned),
    e('job.started', jobId, started(1)),
    ...(checkpointed
      ? [
          e('job.checkpointed', jobId, {
            attempt: 1,
            fileset: `checkpoints-${jobId}`,
            version: 1,
            step: 4,
          }),
        ]
      : []),
    ...(attempts > 1 ? [e('job.started', jobId, started(attempts))] : []),
    e('job.succeeded', jobId, { exitCode: 0, durationMs: 6_000, outputs: [], attempt: attempts }),
  ];
}

describe('the runtime observations', () => {
  it('take a job’s running time only from an attempt that ran it whole', async () => {
    const projection = new ObservationsProjection(schema);
    await db.transaction(async (m) => {
      await projection.apply(m, life('job-whole', 1, true));
      // Lost before its checkpoint, run again from the start: whole.
      await projection.apply(m, life('job-again', 2, false));
      // Resumed after epoch 4 of 10: six seconds is what was left, not the job.
      await projection.apply(m, life('job-resumed', 2, true));
    });
    const { signature } = jobProfile({ ...queued, provision: queued.provision! });
    const seen = await projection.observations(db, 'default', signature);
    expect(
      Object.fromEntries(seen.map((o) => [o.jobId, { outcome: o.outcome, seconds: o.seconds }])),
    ).toEqual({
      'job-whole': { outcome: 'succeeded', seconds: 6 },
      'job-again': { outcome: 'succeeded', seconds: 6 },
      'job-resumed': { outcome: 'succeeded', seconds: null },
    });
  });

  it('count each job’s checkpoints, which price a Spot interruption for its profile', async () => {
    // Given a job that saved two checkpoints, and one that saved none
    const projection = new ObservationsProjection(schema);
    const e = eventLog();
    const twice = life('job-twice', 1, true);
    const checkpoint = {
      attempt: 1,
      fileset: 'checkpoints-job-twice',
      version: 2,
      step: 8,
    };
    await db.transaction(async (m) => {
      // When their lives are projected
      await projection.apply(m, [
        ...twice.slice(0, -1),
        e('job.checkpointed', 'job-twice', checkpoint),
        ...twice.slice(-1),
      ]);
      await projection.apply(m, life('job-none', 1, false));
    });

    // Then the observations count them
    const { signature } = jobProfile({ ...queued, provision: queued.provision! });
    const seen = await projection.observations(db, 'default', signature);
    expect(
      Object.fromEntries(
        seen
          .filter((o) => o.jobId === 'job-twice' || o.jobId === 'job-none')
          .map((o) => [o.jobId, o.checkpoints]),
      ),
    ).toEqual({ 'job-twice': 2, 'job-none': 0 });
  });
});
