import { describe, expect, it } from '@jest/globals';
import { createMlp, createWorkspace, initialise, type Mlp } from './mlp.js';
import { Rng } from './rng.js';
import {
  accumulateSlice,
  learningRateAt,
  partition,
  reduceAndStep,
  type Examples,
} from './training.js';

describe('partition', () => {
  it('covers [0, length) with adjacent, nearly equal parts', () => {
    for (const [length, parts] of [
      [64, 2],
      [65, 3],
      [32, 4],
      [3, 5],
      [0, 2],
    ] as const) {
      const ranges = Array.from({ length: parts }, (_, i) => partition(length, parts, i));
      expect(ranges[0]!.start).toBe(0);
      expect(ranges.at(-1)!.end).toBe(length);
      ranges.slice(1).forEach((r, i) => expect(r.start).toBe(ranges[i]!.end));
      const sizes = ranges.map((r) => r.end - r.start);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
  });

  it('puts inner boundaries on multiples of align', () => {
    const ranges = [0, 1, 2].map((i) => partition(101_770, 3, i, 16));
    expect(ranges[0]).toEqual({ start: 0, end: 33_920 });
    expect(ranges[1]!.end % 16).toBe(0);
    expect(ranges[2]!.end).toBe(101_770);
  });

  it('refuses a part that does not exist', () => {
    expect(() => partition(10, 2, 2)).toThrow(/part 2 of 2/);
    expect(() => partition(10, 0, 0)).toThrow(/parts must be/);
  });
});

describe('reduceAndStep', () => {
  it('sums the threads’ gradients and applies momentum, leaving the buffers alone', () => {
    const params = new Float32Array([1, 1, 1, 1]);
    const velocity = new Float32Array([0, 0.5, 0, 0]);
    const a = new Float32Array([2, 4, 6, 8]);
    const b = new Float32Array([2, 0, 2, 0]);
    reduceAndStep(
      params,
      velocity,
      [a, b],
      { start: 0, end: 3 },
      {
        learningRate: 0.1,
        momentum: 0.5,
        batchSize: 2,
      },
    );
    // v = 0.5 v + (a + b) / 2;  p = p - 0.1 v. Index 3 is outside the range: untouched.
    expect([...velocity]).toEqual([2, 2.25, 4, 0]);
    expect(params[0]).toBeCloseTo(0.8, 6);
    expect(params[1]).toBeCloseTo(0.775, 6);
    expect(params[2]).toBeCloseTo(0.6, 6);
    expect(params[3]).toBe(1);
    expect([...a]).toEqual([2, 4, 6, 8]);
    expect([...b]).toEqual([2, 0, 2, 0]);
  });

  it('handles ranges longer than its summing block', () => {
    const n = 2500;
    const params = new Float32Array(n).fill(1);
    const velocity = new Float32Array(n);
    const grads = [0, 1, 2].map((t) => Float32Array.from({ length: n }, (_, p) => p + t));
    const settings = { learningRate: 1, momentum: 0, batchSize: 3 };
    reduceAndStep(params, velocity, grads, { start: 3, end: n }, settings);
    expect(params[2]).toBe(1);
    for (const p of [3, 1023, 1024, 1027, 2048, n - 1]) expect(params[p]).toBeCloseTo(-p, 3);
  });
});

/** A toy problem the network can learn: the class is which of the first 3 features is largest. */
function toyExamples(count: number, rng: Rng): Examples {
  const features = 8;
  const x = new Float32Array(count * features);
  const y = new Uint8Array(count);
  for (let n = 0; n < count; n++) {
    for (let f = 0; f < features; f++) x[n * features + f] = rng.next() < 0.3 ? 0 : rng.next();
    const first = [0, 1, 2].map((f) => x[n * features + f]!);
    y[n] = first.indexOf(Math.max(...first));
  }
  return { x, y, features };
}

/** One epoch of minibatch SGD, simulating `threads` threads one after the other. */
function epoch(net: Mlp, velocity: Float32Array, data: Examples, threads: number): number {
  const grads = Array.from({ length: threads }, () => createMlp(net.shape));
  const ws = createWorkspace(net.shape);
  const order = Int32Array.from({ length: data.y.length }, (_, i) => i);
  const batch = 16;
  let correct = 0;
  for (let start = 0; start < order.length; start += batch) {
    const size = Math.min(batch, order.length - start);
    grads.forEach((grad, t) => {
      grad.flat.fill(0);
      const share = partition(size, threads, t);
      const slice = { start: start + share.start, end: start + share.end };
      correct += accumulateSlice(net, grad, data, order, slice, ws).correct;
    });
    for (let t = 0; t < threads; t++) {
      const range = partition(net.flat.length, threads, t, 16);
      const settings = { learningRate: 0.1, momentum: 0.9, batchSize: size };
      reduceAndStep(
        net.flat,
        velocity,
        grads.map((g) => g.flat),
        range,
        settings,
      );
    }
  }
  return correct / order.length;
}

describe('data-parallel SGD', () => {
  const shape = { inputs: 8, hidden: 16, outputs: 3 };

  function train(threads: number, epochs: number): { net: Mlp; accuracy: number } {
    const rng = new Rng(5);
    const data = toyExamples(200, rng);
    const net = createMlp(shape);
    initialise(net, rng);
    const velocity = new Float32Array(net.flat.length);
    let accuracy = 0;
    for (let e = 0; e < epochs; e++) accuracy = epoch(net, velocity, data, threads);
    return { net, accuracy };
  }

  it('learns a toy problem', () => {
    expect(train(1, 1).accuracy).toBeLessThan(0.8);
    expect(train(1, 30).accuracy).toBeGreaterThan(0.9);
  });

  it('takes the same steps whether the batch is split between 1 or 3 threads', () => {
    const one = train(1, 3).net.flat;
    const three = train(3, 3).net.flat;
    // Only the order of float additions differs.
    one.forEach((p, i) => expect(three[i]).toBeCloseTo(p, 4));
  });

  it('is deterministic for a thread count', () => {
    expect(train(2, 2).net.flat).toEqual(train(2, 2).net.flat);
  });
});

describe('learningRateAt', () => {
  it('decays linearly from the rate to a tenth of it at the last epoch', () => {
    const settings = { learningRate: 0.1, epochs: 5 };
    expect(learningRateAt(1, settings)).toBeCloseTo(0.1, 12);
    expect(learningRateAt(3, settings)).toBeCloseTo(0.055, 12);
    expect(learningRateAt(5, settings)).toBeCloseTo(0.01, 12);
    expect(learningRateAt(1, { learningRate: 0.1, epochs: 1 })).toBe(0.1);
  });
});
