// The models, written out: least squares and ridge by the normal equations (Cholesky), linear
// regression by gradient descent (full batches, or stochastic in mini-batches), k nearest
// neighbours, and L2-regularised logistic regression by gradient descent; and repeated k-fold
// cross-validation or a hold-out around any of them.
import type { Matrix } from './design.js';
import { Rng } from './rng.js';

export const MODELS = ['ols', 'ridge', 'gd', 'knn', 'logistic'] as const;
export type ModelKind = (typeof MODELS)[number];

export interface ModelParams {
  readonly kind: ModelKind;
  /** ridge and logistic: the L2 penalty (not on the intercept). */
  readonly lambda: number;
  /** gd and logistic: passes over the training rows, and the step size. */
  readonly epochs: number;
  readonly learningRate: number;
  /** knn: neighbours averaged (regression) . */
  readonly k: number;
  /**
   * gd and logistic: rows per step; 0 (the default) is full-batch gradient descent, one step per
   * epoch. With a batch, every epoch visits the rows in a new order (seeded by `seed`): stochastic
   * gradient descent, which on millions of rows gets further in two epochs than full batches in
   * fifty (flights3m: examples/tabular/README.md).
   */
  readonly batch?: number;
  readonly seed?: number;
}

/** What train.js saves: weights (intercept first) for linear models, nothing more for knn. */
export interface FittedModel {
  readonly kind: ModelKind;
  readonly weights: number[];
}

/** Classifiers predict warm (0/1) and are scored by accuracy; the rest predict temp_max, by RMSE. */
export function isClassifier(kind: ModelKind): boolean {
  return kind === 'logistic';
}

export class SingularError extends Error {
  override readonly name = 'SingularError';
}

/** Solves A x = b for a symmetric positive definite A (n × n, row-major) by Cholesky. */
export function choleskySolve(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = a[i * n + j] ?? 0;
      for (let k = 0; k < j; k++) sum -= (l[i * n + k] ?? 0) * (l[j * n + k] ?? 0);
      if (i === j) {
        if (!(sum > 0)) throw new SingularError(`the matrix is not positive definite (pivot ${i})`);
        l[i * n + i] = Math.sqrt(sum);
      } else l[i * n + j] = sum / (l[j * n + j] ?? 1);
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sum = b[i] ?? 0;
    for (let k = 0; k < i; k++) sum -= (l[i * n + k] ?? 0) * (y[k] ?? 0);
    y[i] = sum / (l[i * n + i] ?? 1);
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let sum = y[i] ?? 0;
    for (let k = i + 1; k < n; k++) sum -= (l[k * n + i] ?? 0) * (x[k] ?? 0);
    x[i] = sum / (l[i * n + i] ?? 1);
  }
  return x;
}

/** Rows `rows` of `m` with a leading 1 (the intercept), as one flat array of rows × (cols + 1). */
function withIntercept(m: Matrix, rows: readonly number[]): { x: Float64Array; d: number } {
  const d = m.cols + 1;
  const x = new Float64Array(rows.length * d);
  rows.forEach((r, i) => {
    x[i * d] = 1;
    for (let j = 0; j < m.cols; j++) x[i * d + j + 1] = m.data[r * m.cols + j] ?? 0;
  });
  return { x, d };
}

function linearPredict(weights: ArrayLike<number>, m: Matrix, r: number): number {
  let s = weights[0] ?? 0;
  for (let j = 0; j < m.cols; j++) s += (weights[j + 1] ?? 0) * (m.data[r * m.cols + j] ?? 0);
  return s;
}

const sigmoid = (t: number): number => 1 / (1 + Math.exp(-t));

/** Fits a model on rows `rows` of `m`, against `y` (temp_max or the 0/1 label). */
export function fit(
  params: ModelParams,
  m: Matrix,
  y: readonly number[],
  rows: readonly number[],
): FittedModel {
  const { kind } = params;
  switch (kind) {
    case 'ols':
    case 'ridge': {
      const { x, d } = withIntercept(m, rows);
      const a = new Float64Array(d * d);
      const b = new Float64Array(d);
      for (let i = 0; i < rows.length; i++) {
        const yi = y[rows[i] ?? 0] ?? 0;
        for (let p = 0; p < d; p++) {
          const xp = x[i * d + p] ?? 0;
          b[p] = (b[p] ?? 0) + xp * yi;
          for (let q = 0; q <= p; q++)
            a[p * d + q] = (a[p * d + q] ?? 0) + xp * (x[i * d + q] ?? 0);
        }
      }
      // A tiny ridge keeps least squares solvable when two columns coincide on a fold.
      const lambda = kind === 'ridge' ? params.lambda : 1e-9;
      for (let p = 0; p < d; p++) {
        for (let q = 0; q < p; q++) a[q * d + p] = a[p * d + q] ?? 0;
        if (p > 0) a[p * d + p] = (a[p * d + p] ?? 0) + lambda;
      }
      return { kind, weights: [...choleskySolve(a, b, d)] };
    }
    case 'gd':
    case 'logistic': {
      const { x, d } = withIntercept(m, rows);
      const w = new Float64Array(d);
      const grad = new Float64Array(d);
      const n = rows.length;
      const batch = params.batch ?? 0;
      const size = batch > 0 ? Math.min(batch, n) : n;
      const order = Int32Array.from({ length: n }, (_, i) => i);
      const rng = new Rng(params.seed ?? 1);
      const penalty = kind === 'logistic' ? params.lambda : 0;
      for (let epoch = 0; epoch < params.epochs; epoch++) {
        if (batch > 0) rng.shuffle(order);
        for (let start = 0; start < n; start += size) {
          const end = Math.min(n, start + size);
          grad.fill(0);
          for (let t = start; t < end; t++) {
            const i = order[t] ?? 0;
            let s = 0;
            for (let p = 0; p < d; p++) s += (w[p] ?? 0) * (x[i * d + p] ?? 0);
            const err = (kind === 'logistic' ? sigmoid(s) : s) - (y[rows[i] ?? 0] ?? 0);
            for (let p = 0; p < d; p++) grad[p] = (grad[p] ?? 0) + err * (x[i * d + p] ?? 0);
          }
          for (let p = 0; p < d; p++) {
            const g = (grad[p] ?? 0) / (end - start) + (p > 0 ? penalty * (w[p] ?? 0) : 0);
            w[p] = (w[p] ?? 0) - params.learningRate * g;
          }
        }
      }
      return { kind, weights: [...w] };
    }
    case 'knn':
      return { kind, weights: [] };
    default: {
      const _exhaustive: never = kind;
      throw new Error(`unknown model ${String(_exhaustive)}`);
    }
  }
}

/**
 * Predicts row `r` of `m`: temp_max, or the probability of a warm day for a classifier. knn
 * averages the `k` nearest of the training rows `trainRows` of `train` (Euclidean distance).
 */
export function predict(
  params: ModelParams,
  model: FittedModel,
  m: Matrix,
  r: number,
  train: { m: Matrix; y: readonly number[]; rows: readonly number[] },
): number {
  if (model.kind === 'knn') {
    const k = Math.min(params.k, train.rows.length);
    const best = new Float64Array(k).fill(Infinity);
    const bestY = new Float64Array(k);
    const cols = m.cols;
    for (const t of train.rows) {
      let dist = 0;
      for (let j = 0; j < cols; j++) {
        const diff = (m.data[r * cols + j] ?? 0) - (train.m.data[t * cols + j] ?? 0);
        dist += diff * diff;
      }
      if (dist >= (best[k - 1] ?? Infinity)) continue;
      let i = k - 1;
      while (i > 0 && (best[i - 1] ?? Infinity) > dist) {
        best[i] = best[i - 1] ?? Infinity;
        bestY[i] = bestY[i - 1] ?? 0;
        i--;
      }
      best[i] = dist;
      bestY[i] = train.y[t] ?? 0;
    }
    return bestY.reduce((a, v) => a + v, 0) / k;
  }
  const s = linearPredict(model.weights, m, r);
  return isClassifier(model.kind) ? sigmoid(s) : s;
}

/** RMSE for regressors, accuracy (probability ≥ 0.5 is warm) for classifiers. */
export function score(
  kind: ModelKind,
  predicted: readonly number[],
  actual: readonly number[],
): number {
  if (isClassifier(kind))
    return predicted.filter((p, i) => (p >= 0.5 ? 1 : 0) === actual[i]).length / predicted.length;
  const sse = predicted.reduce((a, p, i) => a + (p - (actual[i] ?? 0)) ** 2, 0);
  return Math.sqrt(sse / predicted.length);
}

/**
 * Repeated k-fold cross-validation on the training rows: `repeats` seeded shuffles, each cut into
 * `folds` folds, each fold scored by a model fitted on the others. Returns the mean score.
 */
export function crossValidate(
  params: ModelParams,
  m: Matrix,
  y: readonly number[],
  folds: number,
  repeats: number,
  seed: number,
): { mean: number; scores: number[] } {
  const scores: number[] = [];
  for (let rep = 0; rep < repeats; rep++) {
    const order = Array.from({ length: m.rows }, (_, i) => i);
    new Rng(seed + rep).shuffle(order);
    for (let f = 0; f < folds; f++) {
      const held = order.filter((_, i) => i % folds === f);
      const kept = order.filter((_, i) => i % folds !== f);
      const model = fit(params, m, y, kept);
      const train = { m, y, rows: kept };
      const predicted = held.map((r) => predict(params, model, m, r, train));
      scores.push(
        score(
          params.kind,
          predicted,
          held.map((r) => y[r] ?? 0),
        ),
      );
    }
  }
  return { mean: scores.reduce((a, s) => a + s, 0) / scores.length, scores };
}

/**
 * Hold-out validation: the rows shuffled (seeded), `fraction` of them held out, the model fitted on
 * the rest and scored on them. One fit instead of a cross-validation's `folds`: on a large table
 * (millions of rows) the held-out score is already steady, as in a notebook with a validation set.
 */
export function holdout(
  params: ModelParams,
  m: Matrix,
  y: readonly number[],
  fraction: number,
  seed: number,
): { score: number; model: FittedModel; trainedRows: number; heldRows: number } {
  const order = Array.from({ length: m.rows }, (_, i) => i);
  new Rng(seed).shuffle(order);
  const cut = Math.round(m.rows * fraction);
  if (cut < 1 || cut >= m.rows)
    throw new RangeError(
      `a hold-out of ${fraction} of ${m.rows} rows leaves nothing to fit or score`,
    );
  const held = order.slice(0, cut);
  const kept = order.slice(cut);
  const model = fit(params, m, y, kept);
  const train = { m, y, rows: kept };
  const predicted = held.map((r) => predict(params, model, m, r, train));
  const score_ = score(
    params.kind,
    predicted,
    held.map((r) => y[r] ?? 0),
  );
  return { score: score_, model, trainedRows: kept.length, heldRows: held.length };
}
