import { describe, expect, it } from '@jest/globals';
import type { JobSignature } from '@acai/contracts';
import { eventLog } from '@acai/testkit';
import { ResultsIndex } from './results-index.js';

const signature = (c: string): JobSignature => ({
  sha256: c.repeat(64),
  parts: { argv: ['etl'], code: [], parameters: {}, secrets: {}, inputs: [], outputs: [] },
  complete: true,
  codeSha256: null,
});

describe('the results index', () => {
  it('keeps what computing a result of another project took, for a job that reused it', () => {
    const index = new ResultsIndex();
    // Project t reuses job-a of project p (which shares its results with t): t holds no row of a.
    index.applyJobs([
      eventLog({ project: 't' })('job.reused', 'job-t', {
        runId: 'run-t',
        name: 'etl',
        command: ['etl'],
        env: {},
        inputs: [],
        outputs: [{ fileset: 'data', version: 4 }],
        signature: signature('a'),
        from: { jobId: 'job-a', runId: 'run-1', savedSeconds: 10, savedCost: 0.001 },
        reason: 'same signature, of project p',
      }),
    ]);
    const [found] = index.findResults('t', 'a'.repeat(64), 'job-new', 1);
    expect(found).toMatchObject({ jobId: 'job-t', durationMs: 10_000, reusedFrom: 'job-a' });
    expect(found?.pricePerHour).toBeCloseTo(0.36, 10);
  });
});
