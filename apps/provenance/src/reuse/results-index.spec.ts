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

  it('knows the content of the versions jobs committed, per project, to sign the steps that read them', () => {
    const index = new ResultsIndex();
    const committed = (project: string, fileset: string, by: 'job' | 'key') =>
      eventLog({ project })('fileset.version_committed', fileset, {
        version: 3,
        parent: 2,
        manifest: { sha256: `m-${project}-${fileset}`, files: 1, bytes: 10 },
        changes: { added: 1, replaced: 0, deleted: 0 },
        metadata: {},
        labels: [],
        createdBy:
          by === 'job'
            ? {
                kind: 'job',
                jobId: 'job-a',
                runId: 'run-1',
                step: 'etl',
                parameters: {},
                code: null,
              }
            : { kind: 'key', keyId: 'k' },
      });
    index.applyJobs([committed('p', 'data', 'job'), committed('p', 'raw', 'key')]);
    expect(index.manifestOf('p', 'data', 3)).toBe('m-p-data');
    expect(index.manifestOf('q', 'data', 3)).toBeUndefined();
    // Source data is read by version from the catalog, never from here.
    expect(index.manifestOf('p', 'raw', 3)).toBeUndefined();
    index.clearJobs();
    expect(index.manifestOf('p', 'data', 3)).toBeUndefined();
  });
});
