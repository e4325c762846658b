#!/usr/bin/env node
// @ts-check
// Imports the weather table into acai as file set `weather`: weather.csv as the `vega-datasets`
// npm package ships it (daily weather in Seattle and New York, 2012-2015), uploaded (verified by
// sha256) and committed as one version. Running it again commits nothing when it is already there.
//
//   ACAI_URL=http://127.0.0.1:8080 ACAI_KEY=$(cat .acai/default.key) node examples/tabular/import.mjs
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const root = path.resolve(import.meta.dirname, '../..');
// The package exports only its code (build/index.js); its data/ sits beside build/.
const packageDir = path.resolve(path.dirname(require.resolve('vega-datasets')), '..');
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
const FILESET = process.env.WEATHER_FILESET ?? 'weather';
const FILE = 'weather.csv';

/**
 * @param {string} method
 * @param {string} pathname
 * @param {unknown} [body]
 * @returns {Promise<{ status: number, body: any }>}
 */
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
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
}

const bytes = readFileSync(path.join(packageDir, 'data', FILE));
const sha256 = createHash('sha256').update(bytes).digest('hex');
const lines = bytes
  .toString('utf8')
  .split('\n')
  .filter((l) => l !== '');
const columns = (lines[0] ?? '').split(',');

const created = await api('POST', '/filesets', { name: FILESET, labels: ['tabular', 'weather'] });
if (created.status !== 201 && created.status !== 409)
  throw new Error(`creating ${FILESET}: ${created.status} ${JSON.stringify(created.body)}`);
const current = await api('GET', `/filesets/${FILESET}`);
const latest = current.body.latestVersion;
if (latest > 0) {
  const listed = await api('GET', `/filesets/${FILESET}/versions/${latest}/files`);
  const items = /** @type {{ path: string, sha256: string }[]} */ (listed.body.items);
  if (items.length === 1 && items[0]?.path === FILE && items[0].sha256 === sha256) {
    console.log(`${FILESET} v${latest} already holds ${FILE}; nothing to do`);
    process.exit(0);
  }
}

const uploaded = await fetch(`${url}/api/v1/blobs/${sha256}`, {
  method: 'PUT',
  headers: {
    authorization: `Bearer ${key}`,
    'content-type': 'application/octet-stream',
    'content-length': String(bytes.length),
  },
  body: bytes,
});
if (uploaded.status !== 201)
  throw new Error(`uploading ${FILE}: ${uploaded.status} ${await uploaded.text()}`);

const metadata = {
  rows: lines.length - 1,
  columns,
  target: { regression: 'temp_max', classification: 'temp_max >= 20 (warm)' },
  source: `vega-datasets npm package ${packageVersion} (data/${FILE})`,
  credit: 'NOAA Climate Data Online (a U.S. Government work), as transformed by vega-datasets',
};
const committed = await api('POST', `/filesets/${FILESET}/versions`, {
  parent: latest,
  put: [{ path: FILE, sha256, size: bytes.length, mediaType: 'text/csv' }],
  delete: [],
  metadata,
  labels: ['raw'],
});
if (committed.status !== 201)
  throw new Error(`committing ${FILESET}: ${committed.status} ${JSON.stringify(committed.body)}`);
console.log(
  `committed ${FILESET} v${committed.body.version}: ${FILE}, ${metadata.rows} rows, ${bytes.length} bytes`,
);
