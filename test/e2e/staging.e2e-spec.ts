import { createHash } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { eventually } from '@acai/testkit';
import { startSystem, type TestSystem } from '../support/system.js';

interface HistoryEntry {
  type: string;
  data: Record<string, unknown>;
}

describe('jobs read file sets and write new versions', () => {
  let system: TestSystem;

  beforeAll(async () => {
    system = await startSystem();
  });

  afterAll(async () => {
    await system?.close();
  });

  const history = async (jobId: string) =>
    (await system.api('GET', `/api/v1/jobs/${jobId}/history`)).body as HistoryEntry[];

  it('stages inputs, saves outputs as versions made by the job, and pins inputs to a version when queued', async () => {
    const submitted = await system.api('POST', '/api/v1/runs', {
      name: 'produce-consume',
      steps: [
        {
          name: 'produce',
          command: [
            'sh',
            '-c',
            'mkdir -p "$ACAI_OUTPUT_NUMBERS/sub" && echo 1 2 3 > "$ACAI_OUTPUT_NUMBERS/a.txt" && echo 4 > "$ACAI_OUTPUT_NUMBERS/sub/b.txt"',
          ],
          outputs: [{ fileset: 'numbers', labels: ['fresh'] }],
        },
        {
          name: 'consume',
          command: ['sh', '-c', 'cat "$ACAI_INPUT_NUMBERS/a.txt" "$ACAI_INPUT_NUMBERS/sub/b.txt"'],
          needs: ['produce'],
          inputs: [{ fileset: 'numbers' }],
        },
      ],
    });
    expect(submitted.status).toBe(202);
    const { id, jobs } = submitted.body as { id: string; jobs: { id: string; name: string }[] };
    const run = await system.waitForRun(id);
    expect(run.status).toBe('succeeded');
    const [produce, consume] = jobs;

    const version = (await system.api('GET', '/api/v1/filesets/numbers/versions/fresh')).body as {
      version: number;
      files: number;
      createdBy: { kind: string; jobId: string; runId: string; step: string };
    };
    expect(version).toEqual(expect.objectContaining({ version: 1, files: 2 }));
    expect(version.createdBy).toEqual(
      expect.objectContaining({ kind: 'job', jobId: produce!.id, runId: id, step: 'produce' }),
    );
    const succeeded = (await history(produce!.id)).find((e) => e.type === 'job.succeeded')!;
    expect(succeeded.data['outputs']).toEqual([{ fileset: 'numbers', version: 1 }]);

    const queued = (await history(consume!.id)).find((e) => e.type === 'job.queued')!;
    expect(queued.data['inputs']).toEqual([
      expect.objectContaining({ fileset: 'numbers', version: 1, path: 'inputs/numbers' }),
    ]);
    const logs = await system.api('GET', `/api/v1/jobs/${consume!.id}/logs`);
    expect(logs.text).toBe('1 2 3\n4\n');

    // A second run writes only a.txt: the new version is exactly the folder, b.txt is gone.
    const again = await system.api('POST', '/api/v1/runs', {
      name: 'produce-again',
      steps: [
        {
          name: 'produce',
          command: ['sh', '-c', 'echo 9 > "$ACAI_OUTPUT_NUMBERS/a.txt"'],
          outputs: [{ fileset: 'numbers' }],
        },
      ],
    });
    await system.waitForRun((again.body as { id: string }).id);
    const diff = await system.api('GET', '/api/v1/filesets/numbers/diff?from=1&to=2');
    expect(diff.body).toEqual({
      from: 1,
      to: 2,
      added: [],
      removed: ['sub/b.txt'],
      changed: ['a.txt'],
    });
  });

  it('fails a job whose input does not exist, with the reason, before it runs', async () => {
    const submitted = await system.api('POST', '/api/v1/runs', {
      name: 'missing-input',
      steps: [
        { name: 'read', command: ['true'], inputs: [{ fileset: 'no-such-data', version: 'prod' }] },
      ],
    });
    const { id, jobs } = submitted.body as { id: string; jobs: { id: string }[] };
    const run = await system.waitForRun(id);
    expect(run.status).toBe('failed');
    const failed = (await history(jobs[0]!.id)).at(-1)!;
    expect(failed.type).toBe('job.failed');
    expect(failed.data['reason']).toBe('staging_failed');
    expect(failed.data['message']).toContain('no-such-data');
  });

  it('stages inputs read-only, removes a job’s folder once its outputs are saved, and keeps a failed one', async () => {
    await system.api('POST', '/api/v1/filesets', { name: 'words' });
    const content = 'apple banana\n';
    const sha = createHash('sha256').update(content).digest('hex');
    expect((await system.upload(content, sha)).status).toBe(201);
    const committed = await system.api('POST', '/api/v1/filesets/words/versions', {
      parent: 0,
      put: [{ path: 'w.txt', sha256: sha }],
    });
    expect(committed.status).toBe(201);
    const submitted = await system.api('POST', '/api/v1/runs', {
      name: 'folders',
      steps: [
        {
          name: 'reads',
          command: ['sh', '-c', 'stat -c %a "$ACAI_INPUT_WORDS/w.txt"; echo "$ACAI_WORK_DIR"'],
          inputs: [{ fileset: 'words' }],
        },
        {
          name: 'fails',
          command: ['sh', '-c', 'echo evidence > "$ACAI_WORK_DIR/clue.txt"; exit 3'],
          needs: ['reads'],
        },
      ],
    });
    const { id, jobs } = submitted.body as { id: string; jobs: { id: string; name: string }[] };
    expect((await system.waitForRun(id)).status).toBe('failed');
    const [reads, fails] = jobs;
    const output = (await system.api('GET', `/api/v1/jobs/${reads!.id}/logs`)).text.split('\n');
    expect(output[0]).toBe('444');
    // The folder the job ran in is gone once it succeeded...
    const folder = output[1]!;
    expect(folder).toContain(system.workDir);
    await expect(stat(folder)).rejects.toMatchObject({ code: 'ENOENT' });
    // ...while a failed job's folder is kept, with what it wrote, under failed/ (moved there just
    // after the failure is recorded), readable by root only.
    const kept = path.join(system.workDir, 'failed', `${fails!.id}-1`);
    expect(
      await eventually('the failed job’s folder', () =>
        readFile(path.join(kept, 'clue.txt'), 'utf8').catch(() => undefined),
      ),
    ).toBe('evidence\n');
    if (process.getuid?.() === 0) {
      expect((await stat(path.dirname(kept))).mode & 0o777).toBe(0o700);
    }
  });

  it('refuses to run on a damaged input: staging checks every byte against its sha256', async () => {
    await system.api('POST', '/api/v1/filesets', { name: 'fragile' });
    const content = 'precious\n';
    const sha = createHash('sha256').update(content).digest('hex');
    await system.upload(content, sha);
    await system.api('POST', '/api/v1/filesets/fragile/versions', {
      parent: 0,
      put: [{ path: 'p.txt', sha256: sha }],
    });
    await writeFile(
      path.join(system.home, 'blobs', 'sha256', sha.slice(0, 2), sha.slice(2, 4), sha),
      'tampered\n',
    );

    const submitted = await system.api('POST', '/api/v1/runs', {
      name: 'damaged',
      steps: [
        {
          name: 'read',
          command: ['cat', 'inputs/fragile/p.txt'],
          inputs: [{ fileset: 'fragile' }],
        },
      ],
    });
    const { id, jobs } = submitted.body as { id: string; jobs: { id: string }[] };
    expect((await system.waitForRun(id)).status).toBe('failed');
    const failed = (await history(jobs[0]!.id)).at(-1)!;
    expect(failed.data['reason']).toBe('staging_failed');
    expect(failed.data['message']).toContain('does not match its sha256');
  });
});
