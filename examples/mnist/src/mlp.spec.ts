import { describe, expect, it } from '@jest/globals';
import {
  accumulateGradient,
  argmax,
  createMlp,
  createWorkspace,
  crossEntropy,
  forward,
  initialise,
  mlpView,
  parameterCount,
  predict,
  softmax,
  type Mlp,
  type MlpShape,
} from './mlp.js';
import { Rng } from './rng.js';

const shape: MlpShape = { inputs: 7, hidden: 5, outputs: 3 };

/** A small network with random weights AND biases (initialise zeroes the biases). */
function randomNet(seed: number): Mlp {
  const net = createMlp(shape);
  const rng = new Rng(seed);
  for (let p = 0; p < net.flat.length; p++) net.flat[p] = rng.normal() * 0.5;
  return net;
}

// Zeros on purpose: the code skips zero inputs, and there are more than four nonzero ones so
// both the four-at-a-time loop and the remainder loop run.
const x = new Float32Array([0.8, 0, -0.3, 0.5, 0, 1.2, 0.4]);

/** The textbook definition, in float64, straight from the documented layout. */
function reference(net: Mlp, input: Float32Array): { pre: number[]; logits: number[] } {
  const { inputs, hidden, outputs } = net.shape;
  const pre = Array.from({ length: hidden }, (_, j) => {
    let sum = net.b1[j]!;
    for (let i = 0; i < inputs; i++) sum += input[i]! * net.w1[i * hidden + j]!;
    return sum;
  });
  const logits = Array.from({ length: outputs }, (_, k) => {
    let sum = net.b2[k]!;
    for (let j = 0; j < hidden; j++) sum += Math.max(0, pre[j]!) * net.w2[j * outputs + k]!;
    return sum;
  });
  return { pre, logits };
}

function lossOf(net: Mlp, label: number): number {
  const ws = createWorkspace(net.shape);
  forward(net, x, 0, ws);
  return crossEntropy(ws.logits, label);
}

describe('mlp layout', () => {
  it('counts and views the four parameter blocks in order', () => {
    expect(parameterCount(shape)).toBe(7 * 5 + 5 + 5 * 3 + 3);
    const flat = Float32Array.from({ length: parameterCount(shape) }, (_, i) => i);
    const net = mlpView(shape, flat);
    expect(net.w1[0]).toBe(0);
    expect(net.b1[0]).toBe(35);
    expect(net.w2[0]).toBe(40);
    expect(net.b2[0]).toBe(55);
    expect(net.b2.length).toBe(3);
    net.b2[2] = -1; // views, not copies
    expect(flat[57]).toBe(-1);
  });

  it('refuses a flat array of the wrong size', () => {
    expect(() => mlpView(shape, new Float32Array(10))).toThrow(/has 58 parameters, not 10/);
  });
});

describe('forward', () => {
  it('matches the textbook definition, zero inputs included', () => {
    const net = randomNet(3);
    const ws = createWorkspace(shape);
    forward(net, x, 0, ws);
    const expected = reference(net, x);
    expected.logits.forEach((logit, k) => expect(ws.logits[k]).toBeCloseTo(logit, 5));
    expected.pre.forEach((pre, j) => expect(ws.hidden[j]).toBeCloseTo(Math.max(0, pre), 5));
  });

  it('reads the example at the given offset, and predicts the largest logit', () => {
    const net = randomNet(4);
    const ws = createWorkspace(shape);
    const padded = new Float32Array(2 * shape.inputs);
    padded.set(x, shape.inputs);
    const predicted = predict(net, padded, shape.inputs, ws);
    const expected = reference(net, x).logits;
    expect(predicted).toBe(expected.indexOf(Math.max(...expected)));
  });
});

describe('softmax and cross-entropy', () => {
  const logits = new Float32Array([2, -1, 0.5, 3]);

  it('gives probabilities that sum to 1 and keep the order of the logits', () => {
    const probs = new Float32Array(4);
    softmax(logits, probs);
    expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(probs.every((p) => p > 0)).toBe(true);
    expect(argmax(probs)).toBe(3);
    expect(probs[0]! / probs[1]!).toBeCloseTo(Math.exp(3), 4);
  });

  it('does not change when a constant is added to every logit', () => {
    const a = new Float32Array(4);
    const b = new Float32Array(4);
    softmax(logits, a);
    softmax(
      logits.map((z) => z + 50),
      b,
    );
    a.forEach((p, k) => expect(b[k]).toBeCloseTo(p, 6));
  });

  it('answers log-sum-exp, and cross-entropy is -log p(label)', () => {
    const probs = new Float32Array(4);
    const lse = softmax(logits, probs);
    expect(lse).toBeCloseTo(Math.log([...logits].reduce((s, z) => s + Math.exp(z), 0)), 6);
    for (let label = 0; label < 4; label++) {
      expect(crossEntropy(logits, label)).toBeCloseTo(-Math.log(probs[label]!), 5);
      expect(crossEntropy(logits, label)).toBeGreaterThan(0);
    }
  });

  it('stays finite for huge logits', () => {
    const huge = new Float32Array([1000, 0, -1000]);
    const probs = new Float32Array(3);
    softmax(huge, probs);
    expect([...probs]).toEqual([1, 0, 0]);
    expect(crossEntropy(huge, 0)).toBe(0);
    expect(crossEntropy(huge, 1)).toBeCloseTo(1000, 3);
  });

  it('is log(classes) for equal logits', () => {
    expect(crossEntropy(new Float32Array(10), 4)).toBeCloseTo(Math.log(10), 6);
  });
});

describe('accumulateGradient', () => {
  it('matches a numeric gradient (central differences) for every parameter', () => {
    const net = randomNet(11);
    const label = 1;
    // The check is only valid away from the ReLU's kink: no pre-activation may be near 0.
    expect(Math.min(...reference(net, x).pre.map(Math.abs))).toBeGreaterThan(0.05);

    const grad = createMlp(shape);
    const ws = createWorkspace(shape);
    const loss = accumulateGradient(net, grad, x, 0, label, ws);
    expect(loss).toBeCloseTo(lossOf(net, label), 5);

    const eps = 1e-3;
    for (let p = 0; p < net.flat.length; p++) {
      const saved = net.flat[p]!;
      net.flat[p] = saved + eps;
      const up = net.flat[p]!; // what float32 actually stored
      const lossUp = lossOf(net, label);
      net.flat[p] = saved - eps;
      const down = net.flat[p]!;
      const lossDown = lossOf(net, label);
      net.flat[p] = saved;
      const numeric = (lossUp - lossDown) / (up - down);
      const analytic = grad.flat[p]!;
      expect(Math.abs(analytic - numeric)).toBeLessThan(2e-3 + 1e-2 * Math.abs(numeric));
    }
    // Not a vacuous check: the gradient is far from zero, except the rows of zero inputs.
    expect(Math.max(...grad.flat.map(Math.abs))).toBeGreaterThan(0.05);
    for (const i of [1, 4]) {
      expect([...grad.w1.subarray(i * 5, i * 5 + 5)]).toEqual([0, 0, 0, 0, 0]);
    }
  });

  it('gives the bias of the logits probs - onehot(label)', () => {
    const net = randomNet(5);
    const grad = createMlp(shape);
    const ws = createWorkspace(shape);
    accumulateGradient(net, grad, x, 0, 2, ws);
    const probs = new Float32Array(3);
    softmax(ws.logits, probs);
    expect(grad.b2[0]).toBeCloseTo(probs[0]!, 6);
    expect(grad.b2[1]).toBeCloseTo(probs[1]!, 6);
    expect(grad.b2[2]).toBeCloseTo(probs[2]! - 1, 6);
  });

  it('adds to the gradient, so calling it per example sums a batch', () => {
    const net = randomNet(6);
    const ws = createWorkspace(shape);
    const once = createMlp(shape);
    accumulateGradient(net, once, x, 0, 0, ws);
    const twice = createMlp(shape);
    accumulateGradient(net, twice, x, 0, 0, ws);
    accumulateGradient(net, twice, x, 0, 0, ws);
    once.flat.forEach((g, p) => expect(twice.flat[p]).toBeCloseTo(2 * g, 6));
  });

  it('lowers the loss when the parameters take a small step against it', () => {
    const net = randomNet(7);
    const grad = createMlp(shape);
    const before = accumulateGradient(net, grad, x, 0, 0, createWorkspace(shape));
    for (let p = 0; p < net.flat.length; p++) net.flat[p]! -= 0.01 * grad.flat[p]!;
    expect(lossOf(net, 0)).toBeLessThan(before);
  });
});

describe('initialise', () => {
  it('draws He-scaled first-layer weights and zero biases, reproducibly', () => {
    const big = { inputs: 784, hidden: 64, outputs: 10 };
    const a = createMlp(big);
    initialise(a, new Rng(1));
    const b = createMlp(big);
    initialise(b, new Rng(1));
    expect(b.flat).toEqual(a.flat);
    const variance = a.w1.reduce((s, w) => s + w * w, 0) / a.w1.length;
    expect(variance).toBeCloseTo(2 / 784, 4);
    expect(a.b1.every((v) => v === 0) && a.b2.every((v) => v === 0)).toBe(true);
  });
});
