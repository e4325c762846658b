import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { VersionView, WorkAssignment } from '@acai/contracts';
import { InMemoryBlobStore } from '@acai/blobstore/testing';
import { FakeCommands } from '@acai/eventing/testing';
import { Staging } from './staging.js';

const WORK: WorkAssignment = {
  project: 'p1',
  runId: 'run-1',
  jobId: 'job-1',
  name: 'train',
  attempt: 1,
  dispatchedSeq: 4,
  command: ['python', 'train.py'],
  env: { SEED: '1' },
  resources: { cpu: 1, memoryMb: 512 },
  inputs: [],
  outputs: [
    { fileset: 'model', path: 'outputs/model', labels: ['best'], save: true },
    { fileset: 'metrics', path: 'outputs/metrics', labels: [], save: true },
    { fileset: 'scratch', path: 'scratch', labels: [], save: false },
  ],
  timeoutSeconds: null,
  network: 'default',
  secrets: {},
  retries: null,
  retry: 0,
  checkpoint: null,
  code: 'c0de'.repeat(16),
};

/** A catalog that has no file sets yet and takes every commit as version 1. */
function catalog(): FakeCommands {
  return new FakeCommands()
    .on('ownBlobs', () => ({ ok: true }))
    .on('createFileset', (req) => ({
      name: req.request.name,
      metadata: {},
      labels: [],
      latestVersion: 0,
      versions: [],
    }))
    .on('getFileset', (req) => ({
      name: req.name,
      metadata: {},
      labels: [],
      latestVersion: 0,
      versions: [],
    }))
    .on('commitVersion', (req): VersionView => ({
      fileset: req.name,
      version: 1,
      parent: 0,
      files: 1,
      bytes: 1,
      manifestSha256: 'a'.repeat(64),
      metadata: {},
      labels: req.request.labels,
      pinned: false,
      evicted: false,
      createdBy: req.createdBy,
    }));
}

describe('saving a job’s outputs', () => {
  let folder: string;
  let blobs: InMemoryBlobStore;
  let commands: FakeCommands;

  beforeEach(async () => {
    folder = await mkdtemp(path.join(os.tmpdir(), 'acai-staging-'));
    await mkdir(path.join(folder, 'outputs/model'), { recursive: true });
    await mkdir(path.join(folder, 'outputs/metrics'), { recursive: true });
    await mkdir(path.join(folder, 'scratch'), { recursive: true });
    await writeFile(path.join(folder, 'outputs/model/weights.bin'), 'weights');
    await writeFile(path.join(folder, 'outputs/metrics/loss.json'), '{"loss":0.1}');
    await writeFile(path.join(folder, 'scratch/tmp'), 'not saved');
    blobs = new InMemoryBlobStore();
    commands = catalog();
  });

  afterEach(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  it('stores every output, asks once whether it may commit, then commits each as a version made by the attempt', async () => {
    const asked: string[] = [];
    const saved = await new Staging(commands, blobs).saveOutputs(WORK, folder, 2, undefined, () => {
      asked.push(commands.sent.map((c) => c.name).join(','));
      return Promise.resolve(true);
    });

    expect(saved).toEqual([
      { fileset: 'model', version: 1 },
      { fileset: 'metrics', version: 1 },
    ]);
    // Asked after both outputs were stored and owned, before anything was committed.
    expect(asked).toEqual(['ownBlobs,ownBlobs']);
    const commits = commands.sent.filter((c) => c.name === 'commitVersion');
    expect(commits).toHaveLength(2);
    expect(commits[0]?.request).toMatchObject({
      name: 'model',
      createdBy: { kind: 'job', jobId: 'job-1', parameters: WORK.env, code: WORK.code },
    });
  });

  it('commits nothing when the attempt no longer owns the job by then', async () => {
    const saved = await new Staging(commands, blobs).saveOutputs(WORK, folder, 1, undefined, () =>
      Promise.resolve(false),
    );

    expect(saved).toBeUndefined();
    expect(commands.sent.map((c) => c.name)).toEqual(['ownBlobs', 'ownBlobs']);
    // The bytes are stored (no version uses them).
    expect(blobs.blobs.size).toBe(2);
  });

  it('does not ask when there is nothing to save', async () => {
    let asked = false;
    const saved = await new Staging(commands, blobs).saveOutputs(
      { ...WORK, outputs: WORK.outputs.filter((o) => !o.save) },
      folder,
      1,
      undefined,
      () => {
        asked = true;
        return Promise.resolve(false);
      },
    );

    expect(saved).toEqual([]);
    expect(asked).toBe(false);
  });
});
