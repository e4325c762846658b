import { describe, expect, it } from '@jest/globals';
import type { JobSignature, ReusableResult, StoredEvent } from '@acai/contracts';
import { silentLogger, type ProjectionControl } from '@acai/eventing';
import { eventLog, queuedJob } from '@acai/testkit';
import type { ReadModels } from '../history/read-models.repository.js';
import { ReuseHandler } from './reuse.handler.js';
import { ReuseLookup, type IndexSnapshot, type ReuseLookupSource } from './reuse-lookup.js';
import type { SignaturesRepository } from './signatures.repository.js';

const sha = (c: string) => c.repeat(64);
const signature = (c: string): JobSignature => ({
  sha256: sha(c),
  parts: { argv: ['etl'], code: [], parameters: {}, secrets: {}, inputs: [], outputs: [] },
  complete: true,
  codeSha256: null,
});

/** Empty tables: everything the lookup knows comes from the batches it follows. */
class EmptyTables implements ReuseLookupSource {
  snapshot(): Promise<IndexSnapshot> {
    return Promise.resolve({
      signatures: { checkpoint: 0, jobs: [] },
      sharing: { checkpoint: 0, projects: [] },
    });
  }
  findResults(): Promise<ReusableResult[]> {
    return Promise.resolve([]);
  }
}

/**
 * The projections as the handler sees them: `catchUp` applies what the log holds beyond what was
 * applied (the test's `pending` batch), as the runner would, and says whether it caught up.
 */
function projections(lookup: ReuseLookup, pending: StoredEvent[], catchesUp: boolean | 'fails') {
  const apply = () => {
    if (pending.length === 0) return;
    lookup.signatures.committed({ after: 0, through: pending.length, events: pending });
    lookup.sharing.committed({ after: 0, through: pending.length, events: [] });
    control.applied = pending.length;
    pending.length = 0;
  };
  const control = {
    catchUps: 0,
    /** The log positions waited for. */
    waits: [] as number[],
    applied: 0,
    apply,
    catchUp: (): Promise<boolean> => {
      control.catchUps += 1;
      if (catchesUp === 'fails') return Promise.reject(new Error('JetStream is not answering'));
      if (catchesUp) apply();
      return Promise.resolve(catchesUp);
    },
    /** The runner applies the pending batch a moment later (when it catches up at all). */
    waitFor: async (seq: number): Promise<void> => {
      control.waits.push(seq);
      if (control.applied >= seq) return;
      await new Promise((r) => setTimeout(r, 5));
      if (catchesUp !== true) return new Promise<void>(() => undefined);
      apply();
    },
  };
  return control;
}

async function setUp(catchesUp: boolean | 'fails' = true) {
  const lookup = new ReuseLookup(silentLogger, 1);
  await lookup.start(new EmptyTables(), () => Promise.resolve(true));
  while (lookup.state !== 'ready') await new Promise((r) => setTimeout(r, 1));
  // Another run's etl succeeded a moment ago: in the log, not yet applied by provenance.
  const e = eventLog({ project: 'p', firstSeq: 0 });
  const pending: StoredEvent[] = [
    e('job.queued', 'job-a', queuedJob({ name: 'etl', signature: signature('a') })),
    e('job.succeeded', 'job-a', {
      exitCode: 0,
      durationMs: 1_000,
      outputs: [{ fileset: 'data', version: 1 }],
      attempt: 1,
    }),
  ];
  const control = projections(lookup, pending, catchesUp);
  const handler = new ReuseHandler(
    {} as SignaturesRepository,
    {} as ReadModels,
    control as unknown as ProjectionControl,
    lookup,
  );
  const ask = (c: string, afterSeq?: number) =>
    handler.findReusable({
      project: 'p',
      signature: sha(c),
      excludeJobId: 'job-new',
      limit: 5,
      ...(afterSeq === undefined ? {} : { afterSeq }),
    });
  return { ask, control };
}

describe('findReusable', () => {
  it('takes a result committed a moment ago: before answering "none", the projections catch up with the log', async () => {
    const { ask, control } = await setUp();
    const { results } = await ask('a');
    expect(results.map((r) => r.jobId)).toEqual(['job-a']);
    expect(control.catchUps).toBe(1);
  });

  it('answers at once when it finds a result, and "none" when the log has none either', async () => {
    const { ask, control } = await setUp();
    expect((await ask('b')).results).toEqual([]);
    expect(control.catchUps).toBe(1);
    expect((await ask('a')).results.map((r) => r.jobId)).toEqual(['job-a']);
    expect(control.catchUps).toBe(1);
  });

  it('answers what it knows when the projections stay behind (the step computes; nothing is wrongly taken)', async () => {
    const { ask, control } = await setUp(false);
    expect((await ask('a')).results).toEqual([]);
    expect(control.catchUps).toBe(1);
  });

  it('answers what it knows when the log’s end cannot be read', async () => {
    const { ask, control } = await setUp('fails');
    expect((await ask('a')).results).toEqual([]);
    expect(control.catchUps).toBe(1);
  });

  it('waits only for the event the step acts on to be applied, not for the log’s end', async () => {
    const { ask, control } = await setUp();
    // The step became ready by job-a's success (seq 2): the answer waits until it is applied.
    expect((await ask('a', 2)).results.map((r) => r.jobId)).toEqual(['job-a']);
    expect(control.waits).toEqual([2]);
    expect(control.catchUps).toBe(0);
  });

  it('answers "none" at once when the event it acts on is applied already', async () => {
    const { ask, control } = await setUp();
    control.apply();
    expect((await ask('b', 2)).results).toEqual([]);
    expect(control.catchUps).toBe(0);
  });
});
