import { describe, expect, it } from '@jest/globals';
import type { Matrix } from './design.js';
import {
  choleskySolve,
  crossValidate,
  fit,
  holdout,
  predict,
  score,
  type ModelParams,
} from './models.js';

const params = (kind: ModelParams['kind'], extra: Partial<ModelParams> = {}): ModelParams => ({
  kind,
  lambda: 0,
  epochs: 2000,
  learningRate: 0.1,
  k: 1,
  ...extra,
});

// y = 3 + 2 x0 - x1, exactly, on a small grid.
const xs: number[][] = [];
for (let a = -2; a <= 2; a++) for (let b = -2; b <= 2; b++) xs.push([a / 2, b / 2]);
const m: Matrix = { rows: xs.length, cols: 2, data: xs.flat() };
const y = xs.map(([a = 0, b = 0]) => 3 + 2 * a - b);
const all = xs.map((_, i) => i);

describe('choleskySolve', () => {
  it('solves a symmetric positive definite system', () => {
    const x = choleskySolve(new Float64Array([4, 2, 2, 3]), new Float64Array([10, 8]), 2);
    expect([...x].map((v) => Number(v.toFixed(10)))).toEqual([1.75, 1.5]);
  });

  it('refuses a singular matrix', () => {
    expect(() =>
      choleskySolve(new Float64Array([1, 1, 1, 1]), new Float64Array([1, 1]), 2),
    ).toThrow('not positive definite');
  });
});

describe('fit and predict', () => {
  it('recovers exact linear weights by least squares and by gradient descent', () => {
    expect(fit(params('ols'), m, y, all).weights.map((w) => Number(w.toFixed(6)))).toEqual([
      3, 2, -1,
    ]);
    const gd = fit(params('gd'), m, y, all).weights;
    expect(gd.map((w) => Number(w.toFixed(3)))).toEqual([3, 2, -1]);
  });

  it('shrinks the weights (not the intercept) with a ridge penalty', () => {
    const ridge = fit(params('ridge', { lambda: 100 }), m, y, all).weights;
    expect(ridge[0]).toBeCloseTo(3, 6);
    expect(Math.abs(ridge[1] ?? 0)).toBeLessThan(2);
  });

  it('predicts a training row itself with one nearest neighbour', () => {
    const model = fit(params('knn'), m, y, all);
    const train = { m, y, rows: all };
    expect(predict(params('knn'), model, m, 7, train)).toBe(y[7]);
  });

  it('separates a linearly separable label by logistic regression', () => {
    const label = xs.map(([a = 0]) => (a > 0 ? 1 : 0));
    const model = fit(params('logistic', { lambda: 0.001, learningRate: 1 }), m, label, all);
    const train = { m, y: label, rows: all };
    const p = all.map((r) => predict(params('logistic'), model, m, r, train));
    expect(score('logistic', p, label)).toBeGreaterThanOrEqual(0.8);
  });
});

describe('crossValidate', () => {
  it('scores an exact linear relation at RMSE 0, the same for the same seed', () => {
    const first = crossValidate(params('ols'), m, y, 5, 2, 1);
    expect(first.scores).toHaveLength(10);
    expect(first.mean).toBeLessThan(1e-6);
    expect(crossValidate(params('knn', { k: 3 }), m, y, 5, 2, 1)).toEqual(
      crossValidate(params('knn', { k: 3 }), m, y, 5, 2, 1),
    );
  });
});

describe('stochastic gradient descent and the hold-out', () => {
  it('reaches the same weights in mini-batches as full batches, in a few epochs', () => {
    const sgd = fit(params('gd', { epochs: 200, batch: 5, learningRate: 0.05 }), m, y, all);
    expect(sgd.weights.map((w) => Number(w.toFixed(2)))).toEqual([3, 2, -1]);
  });

  it('visits the rows in an order set by the seed', () => {
    const p = (seed: number): ModelParams => params('gd', { epochs: 1, batch: 3, seed });
    expect(fit(p(1), m, y, all).weights).toEqual(fit(p(1), m, y, all).weights);
    expect(fit(p(1), m, y, all).weights).not.toEqual(fit(p(2), m, y, all).weights);
  });

  it('fits once on the rows it keeps and scores on those it holds out', () => {
    const h = holdout(params('ols'), m, y, 0.2, 1);
    expect([h.trainedRows, h.heldRows]).toEqual([20, 5]);
    expect(h.score).toBeCloseTo(0, 6);
    expect(h.model.weights.map((w) => Number(w.toFixed(6)))).toEqual([3, 2, -1]);
    expect(() => holdout(params('ols'), m, y, 0.01, 1)).toThrow(/leaves nothing to fit or score/);
  });
});
