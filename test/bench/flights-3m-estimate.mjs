// @ts-check
// An estimate, not a benchmark of acai (not in `npm run bench`): what each step of a flights
// pipeline would cost on vega-datasets' flights-3m.parquet (3 million U.S. flights with date,
// delay, distance, origin and destination), written as a data scientist would write it, in one
// process, with examples/tabular's own models and target encoding. It answers whether that table
// would make the `reuse` workload's preparation (what a modified workload reuses) outweigh its
// models (what it computes again); docs/benchmarks.md has the figures.
//
// It was written before examples/tabular had steps for this table (the flights3m steps, which the
// `reuse` workload now runs); it is kept because docs/benchmarks.md cites its figures. It needs
// Node's zstd (Node >= 22.15) and hyparquet (now a dependency of examples/tabular):
//   node scripts/build.mjs && ROWS=1000000 GD=1 node test/bench/flights-3m-estimate.mjs
// ROWS: rows read (whole row groups of 272,727; default all); GD: also time one fit of gradient
// descent of 5 epochs (the workload's fit is 50 epochs, six times with 5-fold cross-validation).
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dist = path.join(root, 'examples/tabular/dist');
/** @type {any} */
let hyparquet;
try {
  hyparquet = await import('hyparquet');
} catch {
  console.error('hyparquet is not installed: run npm ci (examples/tabular depends on it)');
  process.exit(2);
}
const { crossValidate, fit } = await import(path.join(dist, 'models.js'));
const { outOfFoldMeans } = await import(path.join(dist, 'flights.js'));

// Wall seconds and this process's CPU seconds per part (on a shared machine the CPU seconds are
// the steadier figure: the wall time depends on what else runs).
/** @type {Record<string, number>} */
const seconds = {};
/** @type {Record<string, number>} */
const cpuSeconds = {};
let last = performance.now();
let lastCpu = process.cpuUsage();
/** @param {string} name */
const lap = (name) => {
  const now = performance.now();
  const cpu = process.cpuUsage(lastCpu);
  seconds[name] = Math.round(now - last) / 1000;
  cpuSeconds[name] = Math.round((cpu.user + cpu.system) / 1000) / 1000;
  last = now;
  lastCpu = process.cpuUsage();
  console.log(
    `${name}: ${seconds[name]} s, ${cpuSeconds[name]} CPU-s (load average ${os.loadavg()[0]?.toFixed(2)})`,
  );
};
const ROWS = Number(process.env['ROWS'] ?? 3_000_000);

// load: the Parquet file to columns (ZSTD pages, decompressed by node:zlib), then the table as
// JSON (what the step would write for the next one).
const file = await hyparquet.asyncBufferFromFile(
  path.join(root, 'node_modules/vega-datasets/data/flights-3m.parquet'),
);
/** @type {Record<string, { rowStart: number, values: unknown[] }[]>} */
const chunks = {};
await hyparquet.parquetRead({
  file,
  rowEnd: ROWS,
  columns: ['date', 'delay', 'distance', 'origin', 'destination'],
  compressors: {
    ZSTD: (/** @type {Uint8Array} */ input) => new Uint8Array(zlib.zstdDecompressSync(input)),
  },
  // Chunks of different columns and row groups may come in any order: kept by their first row.
  onChunk: (
    /** @type {{ columnName: string, columnData: ArrayLike<unknown>, rowStart: number }} */ c,
  ) =>
    (chunks[c.columnName] ??= []).push({ rowStart: c.rowStart, values: Array.from(c.columnData) }),
});
/** @param {string} name */
const column = (name) =>
  (chunks[name] ?? []).sort((x, y) => x.rowStart - y.rowStart).flatMap((c) => c.values);
const date = column('date').map((d) => (d instanceof Date ? d.getTime() : Number(d) / 1000));
const delay = column('delay').map(Number);
const distance = column('distance').map(Number);
const origin = column('origin').map(String);
const destination = column('destination').map(String);
const n = delay.length;
lap(`load: ${n} rows decoded to columns`);
const tableJson = JSON.stringify({ date, delay, distance, origin, destination });
lap(`load: the table as JSON (${Math.round(tableJson.length / 1e6)} MB)`);

// clean: read back, drop impossible flights, a seeded 80/20 split, written as JSON.
const table = JSON.parse(tableJson);
const keep = [];
for (let i = 0; i < n; i++)
  if (Number.isFinite(table.delay[i]) && table.distance[i] > 0 && Math.abs(table.delay[i]) <= 1440)
    keep.push(i);
let state = 1;
const random = () => ((state = (state * 1664525 + 1013904223) >>> 0), state / 2 ** 32);
for (let i = keep.length - 1; i > 0; i--) {
  const j = Math.floor(random() * (i + 1));
  [keep[i], keep[j]] = [/** @type {number} */ (keep[j]), /** @type {number} */ (keep[i])];
}
const testRows = Math.round(keep.length * 0.2);
/** @param {number} i */
const row = (i) => [
  table.date[i],
  table.delay[i],
  table.distance[i],
  table.origin[i],
  table.destination[i],
];
const splitJson = JSON.stringify({
  train: keep.slice(testRows).map(row),
  test: keep.slice(0, testRows).map(row),
});
lap(`clean: filtered, split and written (${Math.round(splitJson.length / 1e6)} MB)`);

// features: read back; date parts; airports; flights per airport and day (congestion); six
// out-of-fold target encodings (origin, destination, route, origin × hour: mean delay; origin and
// route: share of late flights); one-hot hour, weekday and month; the matrix as 32-bit floats.
/** @type {{ train: [number, number, number, string, string][] }} */
const split = JSON.parse(splitJson);
const train = split.train;
const m = train.length;
const hour = Int32Array.from(train, (r) => new Date(r[0]).getUTCHours());
const weekday = Int32Array.from(train, (r) => new Date(r[0]).getUTCDay());
const month = Int32Array.from(train, (r) => new Date(r[0]).getUTCMonth());
const day = Int32Array.from(train, (r) => Math.floor(r[0] / 86_400_000));
lap('features: read back, dates parsed (hour, weekday, month, day)');
/** @type {Map<string, number>} */
const airports = new Map();
/** @param {string} code */
const airport = (code) =>
  airports.get(code) ?? (airports.set(code, airports.size), airports.size - 1);
const from = Int32Array.from(train, (r) => airport(r[3]));
const to = Int32Array.from(train, (r) => airport(r[4]));
const a = airports.size;
/** @type {Map<number, number>} */
const perDay = new Map();
for (let i = 0; i < m; i++)
  for (const k of [
    (from[i] ?? 0) * 100_000 + (day[i] ?? 0),
    -1 - ((to[i] ?? 0) * 100_000 + (day[i] ?? 0)),
  ])
    perDay.set(k, (perDay.get(k) ?? 0) + 1);
lap(`features: ${a} airports, flights per airport and day (${perDay.size} groups)`);
const y = Float64Array.from(train, (r) => r[1]);
const late = Float64Array.from(train, (r) => (r[1] >= 15 ? 1 : 0));
const route = Int32Array.from(from, (o, i) => o * a + (to[i] ?? 0));
const originHour = Int32Array.from(from, (o, i) => o * 24 + (hour[i] ?? 0));
/** @type {[Int32Array, number, Float64Array][]} */
const groups = [
  [from, a, y],
  [to, a, y],
  [route, a * a, y],
  [originHour, a * 24, y],
  [from, a, late],
  [route, a * a, late],
];
const encoded = groups.map(([g, count, target]) => outOfFoldMeans(g, target, count, 5, 1, 20));
lap('features: six out-of-fold target encodings');
const cols = 6 + 23 + 6 + 11 + encoded.length;
const x = new Float32Array(m * cols);
for (let i = 0; i < m; i++) {
  const r = /** @type {[number, number, number, string, string]} */ (train[i]);
  const base = i * cols;
  const h = hour[i] ?? 0;
  x.set(
    [
      r[2] / 1000,
      Math.log(r[2]),
      Math.sin((2 * Math.PI * h) / 24),
      Math.cos((2 * Math.PI * h) / 24),
      (perDay.get((from[i] ?? 0) * 100_000 + (day[i] ?? 0)) ?? 0) / 100,
      (perDay.get(-1 - ((to[i] ?? 0) * 100_000 + (day[i] ?? 0))) ?? 0) / 100,
    ],
    base,
  );
  if (h > 0) x[base + 6 + h - 1] = 1;
  if ((weekday[i] ?? 0) > 0) x[base + 29 + (weekday[i] ?? 0) - 1] = 1;
  if ((month[i] ?? 0) > 0) x[base + 35 + (month[i] ?? 0) - 1] = 1;
  encoded.forEach((e, k) => (x[base + 46 + k] = (e[i] ?? 0) / 30));
}
lap(`features: the train matrix (${m} × ${cols}, ${Math.round(x.byteLength / 1e6)} MB)`);

// train: ridge as the workload's flights steps run it (5-fold cross-validation once, then the
// final fit), and optionally gradient descent.
const design = { rows: m, cols, data: x };
const target = Array.from(y);
/** @param {string} kind @param {number} epochs */
const params = (kind, epochs) => ({ kind, lambda: 1, epochs, learningRate: 0.05, k: 10 });
const all = Array.from({ length: m }, (_, i) => i);
crossValidate(params('ridge', 50), design, target, 5, 1, 1);
lap('train: ridge, 5-fold cross-validation');
fit(params('ridge', 50), design, target, all);
lap('train: ridge, the final fit');
if (process.env['GD'] !== undefined) {
  fit(params('gd', 5), design, target, all);
  lap('train: gradient descent, one fit of 5 epochs');
}
console.log(
  JSON.stringify({ rows: n, trainRows: m, features: cols, airports: a, seconds, cpuSeconds }),
);
