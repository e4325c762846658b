#!/usr/bin/env node
// @ts-check
// Imports the example's tables into acai, each as the `vega-datasets` npm package ships it,
// uploaded (verified by sha256) and committed as one version of its file set:
//
//   weather  file set `weather`: weather.csv (daily weather in Seattle and New York, 2012-2015)
//   flights  file set `flights`: flights-200k.json (200,000 U.S. flights: arrival delay, distance,
//            departure time of day)
//   flights3m  file set `flights3m`: flights-3m.parquet (3,000,000 U.S. flights of 2001: date,
//            arrival delay, distance, origin and destination airports)
//
// Running it again commits nothing for a table already there. It talks to acai through the SDK
// (`@acai/sdk`). The tables to import are its arguments (default: weather).
// WEATHER_FILESET, FLIGHTS_FILESET and FLIGHTS3M_FILESET name other file sets to commit them to.
//
//   ACAI_URL=http://127.0.0.1:8080 ACAI_KEY=$(cat .acai/default.key) node examples/tabular/import.mjs [weather] [flights] [flights3m]
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { AcaiClient, pushFiles } from '@acai/sdk';
import { parquetMetadata } from 'hyparquet';

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
const acai = new AcaiClient({ url, key });

/** @type {Record<string, { fileset: string, file: string, mediaType: string, labels: string[], describe: (bytes: Buffer) => { rows: number, columns: string[] }, target: Record<string, string>, credit: string }>} */
const TABLES = {
  weather: {
    fileset: process.env.WEATHER_FILESET ?? 'weather',
    file: 'weather.csv',
    mediaType: 'text/csv',
    labels: ['tabular', 'weather'],
    describe: (bytes) => {
      const lines = bytes
        .toString('utf8')
        .split('\n')
        .filter((l) => l !== '');
      return { rows: lines.length - 1, columns: (lines[0] ?? '').split(',') };
    },
    target: { regression: 'temp_max', classification: 'temp_max >= 20 (warm)' },
    credit: 'NOAA Climate Data Online (a U.S. Government work), as transformed by vega-datasets',
  },
  flights: {
    fileset: process.env.FLIGHTS_FILESET ?? 'flights',
    file: 'flights-200k.json',
    mediaType: 'application/json',
    labels: ['tabular', 'flights'],
    describe: (bytes) => {
      const rows = /** @type {Record<string, unknown>[]} */ (JSON.parse(bytes.toString('utf8')));
      return { rows: rows.length, columns: Object.keys(rows[0] ?? {}) };
    },
    target: { regression: 'delay (arrival, minutes)', classification: 'delay >= 15 (late)' },
    credit:
      'U.S. Bureau of Transportation Statistics on-time performance data, as transformed by vega-datasets',
  },
  flights3m: {
    fileset: process.env.FLIGHTS3M_FILESET ?? 'flights3m',
    file: 'flights-3m.parquet',
    mediaType: 'application/vnd.apache.parquet',
    labels: ['tabular', 'flights'],
    // The row count and columns from the file's Parquet footer.
    describe: (bytes) => {
      const footer = parquetMetadata(bytes);
      return { rows: Number(footer.num_rows), columns: footer.schema.slice(1).map((c) => c.name) };
    },
    target: { regression: 'delay (arrival, minutes)', classification: 'delay >= 15 (late)' },
    credit:
      'U.S. Bureau of Transportation Statistics on-time performance data, as transformed by vega-datasets',
  },
};

const wanted = process.argv.slice(2);
for (const name of wanted.length === 0 ? ['weather'] : wanted) {
  const table = TABLES[name];
  if (table === undefined) {
    console.error(`unknown table '${name}': choose among ${Object.keys(TABLES).join(', ')}`);
    process.exit(2);
  }
  const file = path.join(packageDir, 'data', table.file);
  const bytes = readFileSync(file);
  const metadata = {
    ...table.describe(bytes),
    target: table.target,
    source: `vega-datasets npm package ${packageVersion} (data/${table.file})`,
    credit: table.credit,
  };
  const pushed = await pushFiles(
    acai,
    table.fileset,
    [{ file, path: table.file, size: bytes.length, mediaType: table.mediaType }],
    { filesetLabels: table.labels, labels: ['raw'], metadata, unlessSame: true },
  );
  if (!pushed.committed) {
    console.log(`${table.fileset} v${pushed.version} already holds ${table.file}; nothing to do`);
    continue;
  }
  console.log(
    `committed ${table.fileset} v${pushed.version}: ${table.file}, ${metadata.rows} rows, ${bytes.length} bytes`,
  );
}
