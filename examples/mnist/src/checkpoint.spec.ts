import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import {
  CHECKPOINT_FILE,
  decodeCheckpoint,
  encodeCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
  type Checkpoint,
} from './checkpoint.js';
import { parameterCount } from './mlp.js';
import { Rng } from './rng.js';

const shape = { inputs: 6, hidden: 3, outputs: 2 };

function sample(epoch: number): Checkpoint {
  const rng = new Rng(epoch);
  const count = parameterCount(shape);
  return {
    epoch,
    rngState: 0xdeadbeef,
    shape,
    settings: { hidden: 3, learningRate: 0.1, seed: 1 },
    history: [{ epoch: 1, loss: 0.5, trainAccuracy: 0.9, seconds: 1.25 }],
    params: Float32Array.from({ length: count }, () => rng.normal()),
    velocity: Float32Array.from({ length: count }, () => rng.normal() * 1e-3),
  };
}

function bytes(checkpoint: Checkpoint): Buffer {
  return Buffer.concat(encodeCheckpoint(checkpoint));
}

describe('checkpoint encoding', () => {
  it('round-trips every field, floats bit for bit', () => {
    const original = sample(2);
    const decoded = decodeCheckpoint(bytes(original));
    expect(decoded).toEqual(original);
    expect(decoded.params).toBeInstanceOf(Float32Array);
    expect(Buffer.from(decoded.velocity.buffer)).toEqual(Buffer.from(original.velocity.buffer));
  });

  it('reads data that does not start at an aligned address', () => {
    const encoded = bytes(sample(3));
    const shifted = new Uint8Array(encoded.length + 1).subarray(1);
    shifted.set(encoded);
    expect(decodeCheckpoint(shifted).params).toEqual(sample(3).params);
  });

  it('refuses a truncated or padded file', () => {
    const encoded = bytes(sample(1));
    expect(() => decodeCheckpoint(encoded.subarray(0, encoded.length - 4))).toThrow(/damaged/);
    expect(() => decodeCheckpoint(Buffer.concat([encoded, Buffer.alloc(4)]))).toThrow(/damaged/);
    expect(() => decodeCheckpoint(encoded.subarray(0, 20))).toThrow(/truncated/);
  });

  it('refuses another file', () => {
    expect(() => decodeCheckpoint(Buffer.from('{"epoch": 3}'))).toThrow(/not a checkpoint/);
  });

  it('refuses arrays that do not fit the shape', () => {
    const wrong = { ...sample(1), velocity: new Float32Array(3) };
    expect(() => encodeCheckpoint(wrong)).toThrow(/parameters/);
  });
});

describe('saveCheckpoint / loadCheckpoint', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'mnist-checkpoint-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('finds nothing in an empty folder (a fresh start)', () => {
    expect(loadCheckpoint(dir)).toBeUndefined();
  });

  it('loads what it saved, and a later save replaces it whole', () => {
    saveCheckpoint(dir, sample(1));
    expect(loadCheckpoint(dir)).toEqual(sample(1));
    saveCheckpoint(dir, sample(2));
    expect(loadCheckpoint(dir)).toEqual(sample(2));
    // One file and no temporary left behind: the executor copies the folder as it is.
    expect(readdirSync(dir)).toEqual([CHECKPOINT_FILE]);
    expect(readFileSync(path.join(dir, CHECKPOINT_FILE))).toEqual(bytes(sample(2)));
  });

  it('reports a damaged checkpoint file by name', () => {
    writeFileSync(path.join(dir, CHECKPOINT_FILE), 'half a file');
    expect(() => loadCheckpoint(dir)).toThrow(new RegExp(`${CHECKPOINT_FILE} is not a checkpoint`));
  });
});
