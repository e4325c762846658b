import { describe, expect, it } from '@jest/globals';
import { AcaiError, ProvisioningProblems } from '@acai/contracts';
import { ec2Offers, localOffers } from './offers.js';
import { numericFeatures, profileSignature, profilingGrid, type ProfileKey } from './profiling.js';

function errorOf(run: () => unknown): AcaiError {
  try {
    run();
  } catch (error) {
    if (error instanceof AcaiError) return error;
    throw error;
  }
  throw new Error('accepted, expected a refusal');
}

describe('profilingGrid', () => {
  it('spans the CPU range: smallest, middle and largest, on steady (not burstable) types', () => {
    const grid = profilingGrid(ec2Offers());

    // vCPU counts on offer: 2, 4, 8, 16. At 2 and 4 the t3s are cheaper but burst while profiled.
    expect(grid.map((o) => o.name)).toEqual(['c5.large', 'c5.2xlarge', 'c5.4xlarge']);
  });

  it('leaves out offers with too little memory', () => {
    const grid = profilingGrid(ec2Offers(), { minMemoryMb: 16384 });

    expect(grid.map((o) => o.name)).toEqual(['r5.large', 'c5.2xlarge', 'c5.4xlarge']);
  });

  it('spreads a larger count evenly and returns every size when there are few', () => {
    const local = localOffers({ cpus: [0.5, 1, 1.5, 2, 3, 4, 6, 8], memoryMb: [1024, 2048] });

    expect(profilingGrid(local, { count: 4 }).map((o) => o.vCpu)).toEqual([0.5, 1.5, 4, 8]);
    expect(profilingGrid(local, { count: 20 }).map((o) => o.vCpu)).toEqual([
      0.5, 1, 1.5, 2, 3, 4, 6, 8,
    ]);
    // The cheaper of the two memory sizes for each CPU count.
    expect(profilingGrid(local, { count: 2 }).map((o) => o.name)).toEqual([
      'local-0.5cpu-1024mb',
      'local-8cpu-1024mb',
    ]);
    expect(profilingGrid(local, { count: 1 }).map((o) => o.vCpu)).toEqual([0.5]);
  });

  it('is empty when nothing has enough memory, and refuses a count that is not a positive integer', () => {
    expect(profilingGrid(ec2Offers(), { minMemoryMb: 1_000_000 })).toEqual([]);
    expect(errorOf(() => profilingGrid(ec2Offers(), { count: 0 })).details).toEqual([
      { path: 'count', message: 'must be a positive integer' },
    ]);
  });
});

describe('profileSignature', () => {
  const key: ProfileKey = {
    command: ['python', 'train.py', '--model', 'cnn'],
    env: { EPOCHS: '3', LR: '0.01', BATCH: '64' },
    inputs: [
      { fileset: 'mnist-train', version: 4 },
      { fileset: 'mnist-test', version: 2 },
    ],
    sizeParameters: ['EPOCHS'],
  };
  const signature = profileSignature(key);

  it('is a sha256 in hex', () => {
    expect(signature).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is shared by runs that differ only in a size parameter', () => {
    expect(profileSignature({ ...key, env: { ...key.env, EPOCHS: '30' } })).toBe(signature);
    expect(profileSignature({ ...key, env: { LR: '0.01', BATCH: '64' } })).toBe(signature);
  });

  it('names data by content when given it: versions with the same manifest are the same data', () => {
    const byContent = (sha: string): ProfileKey => ({
      ...key,
      inputs: [{ fileset: 'mnist-train', version: sha }],
    });
    expect(profileSignature(byContent('ab12'))).toBe(profileSignature(byContent('ab12')));
    expect(profileSignature(byContent('ab12'))).not.toBe(profileSignature(byContent('cd34')));
  });

  it('does not depend on the order of the environment or the inputs', () => {
    expect(
      profileSignature({
        ...key,
        env: { BATCH: '64', LR: '0.01', EPOCHS: '3' },
        inputs: [...key.inputs].reverse(),
      }),
    ).toBe(signature);
  });

  it('changes with the code, the other parameters or the data', () => {
    const variants: ProfileKey[] = [
      { ...key, command: ['python', 'train.py', '--model', 'mlp'] },
      { ...key, command: ['python', 'train.py', 'cnn', '--model'] },
      { ...key, env: { ...key.env, LR: '0.1' } },
      { ...key, env: { ...key.env, SEED: '1' } },
      {
        ...key,
        inputs: [
          { fileset: 'mnist-train', version: 5 },
          { fileset: 'mnist-test', version: 2 },
        ],
      },
      { ...key, inputs: [{ fileset: 'mnist-train', version: 4 }] },
      { ...key, sizeParameters: [] },
    ];
    const signatures = variants.map(profileSignature);

    expect(signatures).not.toContain(signature);
    expect(new Set(signatures).size).toBe(variants.length);
  });

  it('cannot be fooled by moving text between command arguments', () => {
    expect(profileSignature({ ...key, command: ['python train.py', '--model', 'cnn'] })).not.toBe(
      signature,
    );
  });
});

describe('numericFeatures', () => {
  it('reads the size parameters from the environment as numbers', () => {
    expect(numericFeatures({ EPOCHS: '3', LR: '0.01', ROWS: '1e6' }, ['EPOCHS', 'ROWS'])).toEqual({
      EPOCHS: 3,
      ROWS: 1_000_000,
    });
    expect(numericFeatures({ EPOCHS: '3' }, [])).toEqual({});
  });

  it('names a size parameter that is missing or not a positive number', () => {
    const missing = errorOf(() => numericFeatures({}, ['EPOCHS']));
    expect(missing.reason).toBe(ProvisioningProblems.SIZE_PARAMETER_INVALID.reason);
    expect(missing.message).toBe("Size parameter EPOCHS is not set in the job's environment");
    for (const bad of ['', 'three', '0', '-2']) {
      expect(errorOf(() => numericFeatures({ EPOCHS: bad }, ['EPOCHS'])).details).toEqual([
        { path: 'env.EPOCHS', message: 'must be a positive number' },
      ]);
    }
  });
});
