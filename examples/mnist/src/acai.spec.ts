import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import {
  checkpointDir,
  defaultThreads,
  folderVariable,
  inputDir,
  intParam,
  JobError,
  metricLine,
  numberParam,
  writeFileAtomic,
} from './acai.js';

describe('folders', () => {
  it('names the variable like the executor: uppercase, other characters as _', () => {
    expect(folderVariable('INPUT', 'mnist-tensors')).toBe('ACAI_INPUT_MNIST_TENSORS');
    expect(folderVariable('OUTPUT', 'my.model v2')).toBe('ACAI_OUTPUT_MY_MODEL_V2');
  });

  it('reads the folder, or says which variable is missing', () => {
    expect(inputDir('mnist', { ACAI_INPUT_MNIST: '/in' })).toBe('/in');
    expect(() => inputDir('mnist', {})).toThrow(/ACAI_INPUT_MNIST is not set/);
  });

  it('has no checkpoint folder when run by hand', () => {
    expect(checkpointDir({})).toBeUndefined();
    expect(checkpointDir({ ACAI_CHECKPOINT_DIR: '/ck' })).toBe('/ck');
  });
});

describe('metricLine', () => {
  it('prints name=value pairs and the step last', () => {
    expect(metricLine({ loss: 0.25, accuracy: 0.91 }, 3)).toBe(
      '##acai metric loss=0.25 accuracy=0.91 step=3',
    );
  });

  it('keeps six significant digits, in a form Number() reads back', () => {
    const line = metricLine({ loss: 0.123456789, tiny: 1.234567e-9, rows: 60000 });
    expect(line).toBe('##acai metric loss=0.123457 tiny=1.23457e-9 rows=60000');
    expect(Number(line.split(' ')[3]!.split('=')[1])).toBeCloseTo(1.23457e-9, 14);
  });

  it('refuses what the executor would reject', () => {
    expect(() => metricLine({ loss: NaN })).toThrow(/not a finite number/);
    expect(() => metricLine({ 'a b': 1 })).toThrow(/bad metric name/);
    expect(() => metricLine({ loss: 1 }, 1.5)).toThrow(/whole number/);
    expect(() => metricLine({})).toThrow(/at least one/);
  });
});

describe('parameters', () => {
  it('uses the default when unset or empty', () => {
    expect(intParam('EPOCHS', 5, {}, {})).toBe(5);
    expect(intParam('EPOCHS', 5, {}, { EPOCHS: ' ' })).toBe(5);
    expect(numberParam('LEARNING_RATE', 0.1, {}, { LEARNING_RATE: '0.02' })).toBe(0.02);
  });

  it('explains a bad value', () => {
    expect(() => intParam('EPOCHS', 5, {}, { EPOCHS: 'ten' })).toThrow(
      new JobError("EPOCHS must be a number, got 'ten'"),
    );
    expect(() => intParam('EPOCHS', 5, {}, { EPOCHS: '2.5' })).toThrow(/whole number/);
    expect(() => intParam('HIDDEN', 5, { min: 1 }, { HIDDEN: '0' })).toThrow(/at least 1/);
    expect(() => numberParam('M', 0, { max: 1 }, { M: '2' })).toThrow(/at most 1/);
  });

  it('defaults the thread count to the granted CPUs, rounded, at least 1', () => {
    expect(defaultThreads({ ACAI_CPUS: '2' })).toBe(2);
    expect(defaultThreads({ ACAI_CPUS: '1.5' })).toBe(2);
    expect(defaultThreads({ ACAI_CPUS: '0.5' })).toBe(1);
    expect(defaultThreads({ ACAI_CPUS: '0.25' })).toBe(1);
    expect(defaultThreads({})).toBe(os.availableParallelism());
    expect(() => defaultThreads({ ACAI_CPUS: '-1' })).toThrow(/ACAI_CPUS/);
  });
});

describe('writeFileAtomic', () => {
  it('writes all chunks under the final name and leaves no temporary file', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mnist-atomic-'));
    try {
      const file = path.join(dir, 'state.bin');
      writeFileAtomic(file, [Buffer.from('abc'), new Uint8Array([100, 101])]);
      writeFileAtomic(file, [Buffer.from('xyz'), Buffer.from('!')]);
      expect(readFileSync(file, 'utf8')).toBe('xyz!');
      expect(readdirSync(dir)).toEqual(['state.bin']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
