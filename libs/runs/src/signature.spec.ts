import { describe, expect, it } from '@jest/globals';
import type { DeclaredOutput, HashedCode, StagedInput } from '@acai/contracts';
import {
  compareSignatures,
  parametersOf,
  signJob,
  whyNotReusable,
  type SignatureInput,
} from './signature.js';

const code: HashedCode[] = [
  { ref: '/usr/bin/python3', role: 'program', sha256: 'a'.repeat(64), problem: null },
  { ref: '/srv/train.py', role: 'script', sha256: 'b'.repeat(64), problem: null },
];
const input = (path: string, manifestSha256: string, version = 1): StagedInput => ({
  fileset: 'mnist',
  version,
  manifestSha256,
  path,
});
const output: DeclaredOutput = { fileset: 'model', path: 'outputs/model', labels: [], save: true };
const job: SignatureInput = {
  command: ['python3', '/srv/train.py', '--epochs', '3'],
  env: { LEARNING_RATE: '0.1', ACAI_RUN: 'x', OMP_NUM_THREADS: '4' },
  secrets: { HF_TOKEN: 'hf' },
  inputs: [input('inputs/mnist', 'c'.repeat(64))],
  outputs: [output],
  code,
};

describe('job signatures', () => {
  it('are the same for the same job, and record their parts', () => {
    const a = signJob(job);
    expect(signJob({ ...job }).sha256).toBe(a.sha256);
    expect(a.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(a.parts).toMatchObject({
      argv: job.command,
      parameters: { LEARNING_RATE: '0.1' },
      secrets: { HF_TOKEN: 'hf' },
      inputs: [{ path: 'inputs/mnist', manifestSha256: 'c'.repeat(64) }],
      outputs: [{ fileset: 'model', path: 'outputs/model' }],
    });
    expect(a.complete).toBe(true);
    expect(a.codeSha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    ['the command line', { command: ['python3', '/srv/train.py', '--epochs', '4'] }],
    ['a parameter', { env: { ...job.env, LEARNING_RATE: '0.2' } }],
    ['the code', { code: [code[0]!, { ...code[1]!, sha256: 'd'.repeat(64) }] }],
    ['an input’s content', { inputs: [input('inputs/mnist', 'e'.repeat(64))] }],
    ['where an input is staged', { inputs: [input('data', 'c'.repeat(64))] }],
    ['the outputs', { outputs: [{ ...output, fileset: 'other' }] }],
    ['a secret’s name', { secrets: { HF_TOKEN: 'other' } }],
  ])('change with %s', (_what, change) => {
    expect(signJob({ ...job, ...change }).sha256).not.toBe(signJob(job).sha256);
  });

  it('do not change with acai’s own variables, thread counts, version numbers or key order', () => {
    const same = signJob({
      ...job,
      env: { OMP_NUM_THREADS: '1', LEARNING_RATE: '0.1', ACAI_RUN: 'y', ACAI_ATTEMPT: '2' },
      inputs: [input('inputs/mnist', 'c'.repeat(64), 9)],
    });
    expect(same.sha256).toBe(signJob(job).sha256);
  });

  it('are incomplete when some code could not be hashed, and such a job is not reused', () => {
    const unhashed = signJob({
      ...job,
      code: [code[0]!, { ...code[1]!, sha256: null, problem: 'it does not exist' }],
    });
    expect(unhashed.complete).toBe(false);
    expect(unhashed.codeSha256).toBeNull();
    expect(whyNotReusable('always', false, unhashed, [output])).toBe(
      'its code could not be hashed (/srv/train.py: it does not exist), so an earlier result cannot be known to be the same',
    );
  });

  it('take parameters without ACAI_* and resource-sizing variables, sorted', () => {
    expect(parametersOf({ Z: '1', ACAI_X: '2', MKL_NUM_THREADS: '3', A: '4' })).toEqual({
      A: '4',
      Z: '1',
    });
    expect(Object.keys(parametersOf({ Z: '1', A: '4' }))).toEqual(['A', 'Z']);
  });
});

describe('whether a job may take an earlier result', () => {
  const signature = signJob(job);

  it('auto: when it saves every output it declares and is deterministic', () => {
    expect(whyNotReusable('auto', false, signature, [output])).toBeNull();
    expect(whyNotReusable('auto', true, signature, [output])).toBe(
      'its step is marked nondeterministic (reuse: always would reuse it)',
    );
    expect(whyNotReusable('auto', false, signature, [])).toBe(
      'it saves no outputs: it is run for what it does (reuse: always would reuse it)',
    );
    expect(whyNotReusable('auto', false, signature, [output, { ...output, save: false }])).toBe(
      "its output 'model' is not saved (save: false), so there is no result to reuse",
    );
  });

  it('always: also without outputs or when nondeterministic; never: never', () => {
    expect(whyNotReusable('always', true, signature, [])).toBeNull();
    expect(whyNotReusable('never', false, signature, [output])).toBe('its step says reuse: never');
  });
});

describe('comparing two signatures', () => {
  it('names each part that differs', () => {
    const mine = signJob({
      ...job,
      env: { LEARNING_RATE: '0.2', HIDDEN: '64' },
      code: [code[0]!, { ...code[1]!, sha256: 'f'.repeat(64) }],
      inputs: [input('inputs/mnist', 'e'.repeat(64))],
    });
    expect(compareSignatures(mine, signJob(job))).toEqual([
      { part: 'code', what: '/srv/train.py changed (bbbbbbbbbbbb → ffffffffffff)' },
      { part: 'parameters', what: 'HIDDEN=64 is new' },
      { part: 'parameters', what: 'LEARNING_RATE=0.2 (was 0.1)' },
      {
        part: 'inputs',
        what: 'input inputs/mnist has other content (cccccccccccc → eeeeeeeeeeee)',
      },
    ]);
    expect(compareSignatures(signJob(job), signJob(job))).toEqual([]);
  });
});
