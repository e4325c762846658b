#!/usr/bin/env node
// @ts-check
// Imports the weather table into acai as file set `weather`: weather.csv as the `vega-datasets`
// npm package ships it (daily weather in Seattle and New York, 2012-2015), uploaded (verified by
// sha256) and committed as one version. Running it again commits nothing when it is already there.
// It talks to acai through the SDK (`@acai/sdk`).
//
//   ACAI_URL=http://127.0.0.1:8080 ACAI_KEY=$(cat .acai/default.key) node examples/tabular/import.mjs
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { AcaiClient, pushFiles } from '@acai/sdk';

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

const acai = new AcaiClient({ url, key });

const file = path.join(packageDir, 'data', FILE);
const bytes = readFileSync(file);
const lines = bytes
  .toString('utf8')
  .split('\n')
  .filter((l) => l !== '');
const columns = (lines[0] ?? '').split(',');

const metadata = {
  rows: lines.length - 1,
  columns,
  target: { regression: 'temp_max', classification: 'temp_max >= 20 (warm)' },
  source: `vega-datasets npm package ${packageVersion} (data/${FILE})`,
  credit: 'NOAA Climate Data Online (a U.S. Government work), as transformed by vega-datasets',
};
const pushed = await pushFiles(
  acai,
  FILESET,
  [{ file, path: FILE, size: bytes.length, mediaType: 'text/csv' }],
  { filesetLabels: ['tabular', 'weather'], labels: ['raw'], metadata, unlessSame: true },
);
if (!pushed.committed) {
  console.log(`${FILESET} v${pushed.version} already holds ${FILE}; nothing to do`);
  process.exit(0);
}
console.log(
  `committed ${FILESET} v${pushed.version}: ${FILE}, ${metadata.rows} rows, ${bytes.length} bytes`,
);
