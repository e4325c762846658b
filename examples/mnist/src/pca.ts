// An optional step between etl and train: `mnist-tensors` → `mnist-pca`, the same tensor format
// (train and evaluate read it with TENSORS=mnist-pca) with each image projected on the leading
// principal components of the train images, as many MNIST notebooks do before a model.
//
//   COMPONENTS  how many components to keep (default 100)
//
// The covariance of the 784 features over the 60,000 train rows is computed densely and its
// leading eigenvectors by subspace iteration: tens of seconds of one CPU, for a file set about a
// fifth of the size of its input. What it prints: the share of the variance kept.
import { copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { inputDir, intParam, outputDir, peakRssMb, printMetric, runJob } from './acai.js';
import { readableJson } from './json.js';
import { Rng } from './rng.js';
import {
  assertLittleEndian,
  bytesOf,
  readFloat32,
  readMeta,
  TENSOR_FILES,
  type TensorMeta,
} from './tensors.js';

const ITERATIONS = 20;

runJob(async () => {
  assertLittleEndian();
  const input = inputDir('mnist-tensors');
  const output = outputDir('mnist-pca');
  const meta = readMeta(input);
  const f = meta.features;
  const k = intParam('COMPONENTS', 100, { min: 1, max: f });
  const trainX = readFloat32(path.join(input, TENSOR_FILES.trainX), meta.train * f, false);
  const testX = readFloat32(path.join(input, TENSOR_FILES.testX), meta.test * f, false);

  const mean = new Float64Array(f);
  for (let r = 0; r < meta.train; r++) for (let i = 0; i < f; i++) mean[i]! += trainX[r * f + i]!;
  for (let i = 0; i < f; i++) mean[i]! /= meta.train;

  // The covariance, upper triangle accumulated row by row, then mirrored.
  const cov = new Float64Array(f * f);
  const centred = new Float64Array(f);
  for (let r = 0; r < meta.train; r++) {
    for (let i = 0; i < f; i++) centred[i] = trainX[r * f + i]! - mean[i]!;
    for (let i = 0; i < f; i++) {
      const a = centred[i]!;
      const row = i * f;
      for (let j = i; j < f; j++) cov[row + j]! += a * centred[j]!;
    }
  }
  let trace = 0;
  for (let i = 0; i < f; i++) {
    for (let j = i; j < f; j++) {
      const v = cov[i * f + j]! / (meta.train - 1);
      cov[i * f + j] = v;
      cov[j * f + i] = v;
    }
    trace += cov[i * f + i]!;
  }

  const { vectors, values } = leadingEigenvectors(cov, f, k);
  const kept = values.reduce((s, v) => s + v, 0);
  writeProjected(path.join(output, TENSOR_FILES.trainX), trainX, meta.train, f, mean, vectors, k);
  writeProjected(path.join(output, TENSOR_FILES.testX), testX, meta.test, f, mean, vectors, k);
  copyFileSync(path.join(input, TENSOR_FILES.trainY), path.join(output, TENSOR_FILES.trainY));
  copyFileSync(path.join(input, TENSOR_FILES.testY), path.join(output, TENSOR_FILES.testY));
  const projected: TensorMeta = { ...meta, features: k };
  writeFileSync(path.join(output, TENSOR_FILES.meta), readableJson(projected));
  const share = trace > 0 ? kept / trace : 0;
  console.log(
    `kept ${k} of ${f} components (${(share * 100).toFixed(1)} % of the variance) in ${output}`,
  );
  printMetric({ components: k, variance_kept: share }, 0);
  console.log(`peak RSS: ${peakRssMb()} MB`);
});

/**
 * The k leading eigenvectors (columns of an f × k row-major matrix) of a symmetric matrix, by
 * subspace iteration with Gram–Schmidt, and their eigenvalues (Rayleigh quotients).
 */
function leadingEigenvectors(
  matrix: Float64Array,
  f: number,
  k: number,
): { vectors: Float64Array; values: number[] } {
  const random = new Rng(1);
  let q: Float64Array = new Float64Array(f * k);
  for (let n = 0; n < q.length; n++) q[n] = random.next() - 0.5;
  orthonormalise(q, f, k);
  for (let iteration = 0; iteration < ITERATIONS; iteration++) {
    q = multiply(matrix, q, f, k);
    orthonormalise(q, f, k);
  }
  const mq = multiply(matrix, q, f, k);
  const values: number[] = [];
  for (let c = 0; c < k; c++) {
    let v = 0;
    for (let i = 0; i < f; i++) v += q[i * k + c]! * mq[i * k + c]!;
    values.push(v);
  }
  return { vectors: q, values };
}

function multiply(matrix: Float64Array, q: Float64Array, f: number, k: number): Float64Array {
  const out = new Float64Array(f * k);
  for (let i = 0; i < f; i++)
    for (let j = 0; j < f; j++) {
      const a = matrix[i * f + j]!;
      if (a === 0) continue;
      for (let c = 0; c < k; c++) out[i * k + c]! += a * q[j * k + c]!;
    }
  return out;
}

function orthonormalise(q: Float64Array, f: number, k: number): void {
  for (let c = 0; c < k; c++) {
    for (let p = 0; p < c; p++) {
      let dot = 0;
      for (let i = 0; i < f; i++) dot += q[i * k + c]! * q[i * k + p]!;
      for (let i = 0; i < f; i++) q[i * k + c]! -= dot * q[i * k + p]!;
    }
    let norm = 0;
    for (let i = 0; i < f; i++) norm += q[i * k + c]! ** 2;
    norm = Math.sqrt(norm) || 1;
    for (let i = 0; i < f; i++) q[i * k + c]! /= norm;
  }
}

function writeProjected(
  file: string,
  x: Float32Array,
  rows: number,
  f: number,
  mean: Float64Array,
  vectors: Float64Array,
  k: number,
): void {
  const out = new Float32Array(rows * k);
  const centred = new Float64Array(f);
  const acc = new Float64Array(k);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < f; i++) centred[i] = x[r * f + i]! - mean[i]!;
    acc.fill(0);
    for (let i = 0; i < f; i++) {
      const a = centred[i]!;
      for (let c = 0; c < k; c++) acc[c]! += a * vectors[i * k + c]!;
    }
    for (let c = 0; c < k; c++) out[r * k + c] = acc[c]!;
  }
  writeFileSync(file, bytesOf(out));
}
