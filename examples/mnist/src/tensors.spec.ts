import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { bytesOf, checkMeta, pixelStats, readFloat32, readLabels } from './tensors.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'mnist-tensors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tensor files', () => {
  it('read back what was written, into shared memory when asked', () => {
    const file = path.join(dir, 'x.f32');
    const values = new Float32Array([0, 0.5, 1, -2.25]);
    writeFileSync(file, bytesOf(values));
    const shared = readFloat32(file, 4, true);
    expect(shared).toEqual(values);
    expect(shared.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(readFloat32(file, 4, false).buffer).toBeInstanceOf(ArrayBuffer);
  });

  it('refuse a file whose size does not match the row count', () => {
    const file = path.join(dir, 'short.f32');
    writeFileSync(file, bytesOf(new Float32Array(3)));
    expect(() => readFloat32(file, 4, false)).toThrow(/is 12 bytes, expected 16/);
    expect(() => readFloat32(path.join(dir, 'missing'), 1, false)).toThrow(/cannot open/);
  });

  it('refuse a label that is not a class', () => {
    const file = path.join(dir, 'y.u8');
    writeFileSync(file, new Uint8Array([1, 9, 10]));
    expect(() => readLabels(file, 3, 10, false)).toThrow(/label 10 of row 2/);
    expect([...readLabels(file, 3, 11, false)]).toEqual([1, 9, 10]);
  });
});

describe('checkMeta', () => {
  const good = {
    train: 6,
    test: 2,
    features: 4,
    classes: 10,
    image: { rows: 2, cols: 2 },
    normalisation: { method: 'scale', offset: 0, scale: 1, trainMean: 0.1, trainStd: 0.3 },
  };

  it('accepts a complete meta.json', () => {
    expect(checkMeta(good, 'meta.json')).toEqual(good);
  });

  it('names the missing or wrong field', () => {
    expect(() => checkMeta({ ...good, train: -1 }, 'meta.json')).toThrow(/'train'/);
    expect(() => checkMeta({ ...good, normalisation: {} }, 'meta.json')).toThrow(/offset/);
    expect(() => checkMeta(null, 'meta.json')).toThrow(/'train'/);
  });
});

describe('pixelStats', () => {
  it('gives the mean and standard deviation of pixel / 255', () => {
    const stats = pixelStats(new Uint8Array([0, 255, 0, 255]));
    expect(stats.mean).toBeCloseTo(0.5, 12);
    expect(stats.std).toBeCloseTo(0.5, 12);
    expect(pixelStats(new Uint8Array([51, 51])).std).toBeCloseTo(0, 6);
  });
});
