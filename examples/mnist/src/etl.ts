// Step 1 of the MNIST pipeline: the raw IDX files of file set `mnist` → file set `mnist-tensors`
// (float32 features, uint8 labels, meta.json), ready to be read straight into memory by train.
//
//   NORMALISE  scale (default): pixel / 255, in [0, 1], background stays 0
//              standardise: (pixel / 255 - mean) / std with the train set's mean and std
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { inputDir, JobError, outputDir, peakRssMb, printMetric, runJob } from './acai.js';
import { readableJson } from './json.js';
import { IdxError, parseImages, parseLabels, type IdxImages, type IdxLabels } from './idx.js';
import {
  assertLittleEndian,
  bytesOf,
  pixelStats,
  TENSOR_FILES,
  type Normalisation,
  type TensorMeta,
} from './tensors.js';

const CLASSES = 10;
const RAW = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
} as const;

interface Split {
  readonly images: IdxImages;
  readonly labels: IdxLabels;
}

runJob(async () => {
  assertLittleEndian();
  const method = normaliseParam(process.env.NORMALISE);
  const input = inputDir('mnist');
  const output = outputDir('mnist-tensors');

  const train = readSplit(input, RAW.train);
  const test = readSplit(input, RAW.test);
  const { rows, cols } = train.images;
  if (test.images.rows !== rows || test.images.cols !== cols) {
    throw new JobError(
      `train images are ${rows} × ${cols} but test images ${test.images.rows} × ${test.images.cols}`,
    );
  }

  const normalisation = normalisationFor(method, train.images.pixels);
  writeFeatures(path.join(output, TENSOR_FILES.trainX), train.images.pixels, normalisation);
  writeFeatures(path.join(output, TENSOR_FILES.testX), test.images.pixels, normalisation);
  writeFileSync(path.join(output, TENSOR_FILES.trainY), train.labels.labels);
  writeFileSync(path.join(output, TENSOR_FILES.testY), test.labels.labels);
  const meta: TensorMeta = {
    train: train.images.count,
    test: test.images.count,
    features: rows * cols,
    classes: CLASSES,
    image: { rows, cols },
    normalisation,
  };
  writeFileSync(path.join(output, TENSOR_FILES.meta), readableJson(meta));

  console.log(
    `wrote ${meta.train} train and ${meta.test} test rows of ${meta.features} features ` +
      `(${method}: mean ${normalisation.trainMean.toFixed(4)}, std ${normalisation.trainStd.toFixed(4)} ` +
      `of pixel / 255) to ${output}`,
  );
  printMetric({ train_rows: meta.train, test_rows: meta.test, features: meta.features }, 0);
  console.log(`peak RSS: ${peakRssMb()} MB`);
});

function normaliseParam(value: string | undefined): Normalisation['method'] {
  const method = value === undefined || value === '' ? 'scale' : value;
  if (method !== 'scale' && method !== 'standardise')
    throw new JobError(`NORMALISE must be 'scale' or 'standardise', got '${method}'`);
  return method;
}

function readSplit(dir: string, files: { images: string; labels: string }): Split {
  const images = parseIdx(dir, files.images, (bytes, name) => parseImages(bytes, name));
  const labels = parseIdx(dir, files.labels, (bytes, name) => parseLabels(bytes, name, CLASSES));
  if (images.count !== labels.count) {
    throw new JobError(
      `${files.images} holds ${images.count} images but ${files.labels} ${labels.count} labels`,
    );
  }
  return { images, labels };
}

function parseIdx<T>(dir: string, name: string, parse: (bytes: Uint8Array, name: string) => T): T {
  const file = path.join(dir, name);
  if (!existsSync(file)) {
    const present = readdirSync(dir).join(', ') || 'no files';
    throw new JobError(`the input file set 'mnist' has no ${name} (it has: ${present})`);
  }
  try {
    return parse(readFileSync(file), name);
  } catch (error) {
    // A malformed file is the user's to fix, not a bug: report it without a stack trace.
    if (error instanceof IdxError) throw new JobError(error.message);
    throw error;
  }
}

/**
 * Scaling alone is the default: it trains as well as standardising here (the network's biases
 * absorb the offset) and keeps the ~81% background pixels at exactly 0, which train skips.
 */
function normalisationFor(method: Normalisation['method'], pixels: Uint8Array): Normalisation {
  const { mean, std } = pixelStats(pixels);
  return method === 'scale'
    ? { method, offset: 0, scale: 1, trainMean: mean, trainStd: std }
    : { method, offset: mean, scale: std, trainMean: mean, trainStd: std };
}

/** Writes pixels as float32 features, a few MB at a time so memory stays at the raw file's size. */
function writeFeatures(file: string, pixels: Uint8Array, normalisation: Normalisation): void {
  const table = new Float32Array(256);
  for (let p = 0; p < 256; p++) table[p] = (p / 255 - normalisation.offset) / normalisation.scale;
  const chunk = new Float32Array(1 << 20);
  const fd = openSync(file, 'w');
  try {
    for (let start = 0; start < pixels.length; start += chunk.length) {
      const length = Math.min(chunk.length, pixels.length - start);
      for (let i = 0; i < length; i++) chunk[i] = table[pixels[start + i]!]!;
      const bytes = bytesOf(chunk.subarray(0, length));
      let written = 0;
      while (written < bytes.length) written += writeSync(fd, bytes, written);
    }
  } finally {
    closeSync(fd);
  }
}
