// The flights table: 200,000 U.S. domestic flights (vega-datasets' flights-200k.json), parsed,
// cleaned, split into train and test rows, and turned into feature matrices for predicting arrival
// delay. The file has three fields per flight and nothing else (no date, no airports):
//
//   delay     arrival delay in minutes (negative: early)
//   distance  miles flown
//   time      scheduled departure time of day in hours (13.5 is 13:30), 0 to 24
//
// Rows are stored by column (one array per field): 200,000 objects would cost several times the
// memory and the JSON.
import type { Design, Matrix } from './design.js';
import { Rng } from './rng.js';
import { splitRows, TableError } from './weather.js';

export const FLIGHT_FIELDS = ['delay', 'distance', 'time'] as const;

/** The table by column; every array has the same length. */
export interface FlightColumns {
  readonly delay: number[];
  readonly distance: number[];
  readonly time: number[];
}

/** Parses flights-200k.json: an array of objects with exactly numeric `delay`, `distance`, `time`. */
export function parseFlightsJson(text: string): FlightColumns {
  let rows: unknown;
  try {
    rows = JSON.parse(text);
  } catch (error) {
    throw new TableError(`not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!Array.isArray(rows)) throw new TableError('expected an array of flights');
  const out: FlightColumns = { delay: [], distance: [], time: [] };
  rows.forEach((row: unknown, i) => {
    if (typeof row !== 'object' || row === null)
      throw new TableError(`flight ${i} is not an object`);
    const record = row as Record<string, unknown>;
    for (const field of FLIGHT_FIELDS) {
      const value = record[field];
      // A missing or null value is kept as NaN, which `cleanFlights` drops and counts.
      if (value === undefined || value === null) out[field].push(Number.NaN);
      else if (typeof value === 'number') out[field].push(value);
      else throw new TableError(`flight ${i}: ${field} is ${JSON.stringify(value)}, not a number`);
    }
  });
  return out;
}

export interface FlightCleanOptions {
  /** Flights more than this many minutes late (or early) are taken as recording errors. */
  readonly maxDelay: number;
}

/**
 * Drops flights with a missing number, a departure time outside [0, 24), a distance that is not
 * positive, or a delay beyond ±`maxDelay`. Returns the columns kept and why the others went.
 */
export function cleanFlights(
  table: FlightColumns,
  options: FlightCleanOptions,
): { table: FlightColumns; dropped: Record<string, number> } {
  const kept: FlightColumns = { delay: [], distance: [], time: [] };
  const dropped: Record<string, number> = {};
  const drop = (why: string): void => {
    dropped[why] = (dropped[why] ?? 0) + 1;
  };
  for (let i = 0; i < table.delay.length; i++) {
    const delay = table.delay[i] ?? Number.NaN;
    const distance = table.distance[i] ?? Number.NaN;
    const time = table.time[i] ?? Number.NaN;
    if ([delay, distance, time].some((v) => !Number.isFinite(v))) drop('missing number');
    else if (time < 0 || time >= 24) drop('time outside 0-24 h');
    else if (distance <= 0) drop('distance not positive');
    else if (Math.abs(delay) > options.maxDelay) drop('delay beyond the maximum');
    else {
      kept.delay.push(delay);
      kept.distance.push(distance);
      kept.time.push(time);
    }
  }
  return { table: kept, dropped };
}

/** A seeded split of the rows (the same shuffle as the weather table's `splitRows`). */
export function splitFlights(
  table: FlightColumns,
  testFraction: number,
  seed: number,
): { train: FlightColumns; test: FlightColumns } {
  const { train, test } = splitRows(
    Array.from({ length: table.delay.length }, (_, i) => i),
    testFraction,
    seed,
  );
  const pick = (rows: number[]): FlightColumns => ({
    delay: rows.map((i) => table.delay[i] ?? 0),
    distance: rows.map((i) => table.distance[i] ?? 0),
    time: rows.map((i) => table.time[i] ?? 0),
  });
  return { train: pick(train), test: pick(test) };
}

export const FLIGHT_FEATURE_SETS = ['basic', 'hourly', 'target'] as const;
export type FlightFeatureSet = (typeof FLIGHT_FEATURE_SETS)[number];

export interface FlightFeatureOptions {
  readonly set: FlightFeatureSet;
  /** Distance bands (quantiles of the train rows' distances) for the one-hot and the encodings. */
  readonly bands: number;
  /** `target`: the weight, in flights, of the overall mean in each group's smoothed mean. */
  readonly smoothing: number;
  /** `target`: train rows get their encodings from a model of the other folds (no leak). */
  readonly encodingFolds: number;
  readonly seed: number;
  /** A flight at least this many minutes late is labelled late (1) for classifiers. */
  readonly late: number;
}

/**
 * The edges between `bands` quantile bands of `values` (a band holds values from its lower edge up
 * to the next; the last is open). Fewer when values tie: no band is empty on `values`.
 */
export function bandEdges(values: readonly number[], bands: number): number[] {
  const sorted = [...values].sort((a, b) => a - b);
  const edges: number[] = [];
  for (let b = 1; b < bands; b++) {
    const edge = sorted[Math.min(sorted.length - 1, Math.floor((b * sorted.length) / bands))];
    // An edge at the smallest value would leave band 0 empty; a repeated one, an empty band.
    if (edge !== undefined && edge > (sorted[0] ?? edge) && edge !== edges[edges.length - 1])
      edges.push(edge);
  }
  return edges;
}

/** The band of `value` given upper edges: the number of edges at or below it. */
export function bandOf(edges: readonly number[], value: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((edges[mid] ?? Infinity) <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Smoothed group means of `target` (target encoding): for each group, (sum + smoothing × prior) /
 * (count + smoothing), where the prior is the mean over all rows given. Groups are 0..groups-1.
 */
export function groupMeans(
  group: ArrayLike<number>,
  target: ArrayLike<number>,
  rows: readonly number[],
  groups: number,
  smoothing: number,
): Float64Array {
  const sum = new Float64Array(groups);
  const count = new Float64Array(groups);
  let total = 0;
  for (const r of rows) {
    const g = group[r] ?? 0;
    const t = target[r] ?? 0;
    sum[g] = (sum[g] ?? 0) + t;
    count[g] = (count[g] ?? 0) + 1;
    total += t;
  }
  const prior = rows.length === 0 ? 0 : total / rows.length;
  const out = new Float64Array(groups);
  for (let g = 0; g < groups; g++)
    out[g] = ((sum[g] ?? 0) + smoothing * prior) / ((count[g] ?? 0) + smoothing);
  return out;
}

/**
 * Target encoding of `group` for its own rows, out of fold: the rows are shuffled (seeded) into
 * `folds` folds and each row gets the smoothed mean of its group over the other folds' rows, so
 * that a row's own target never enters its encoding. With one fold, every row gets its group's
 * mean over all rows (its own included: a leak that makes the column look better than it is).
 */
export function outOfFoldMeans(
  group: ArrayLike<number>,
  y: ArrayLike<number>,
  groups: number,
  folds: number,
  seed: number,
  smoothing: number,
): Float64Array {
  const rows = Array.from({ length: group.length }, (_, i) => i);
  const out = new Float64Array(group.length);
  if (folds <= 1) {
    const means = groupMeans(group, y, rows, groups, smoothing);
    rows.forEach((r) => (out[r] = means[group[r] ?? 0] ?? 0));
    return out;
  }
  new Rng(seed).shuffle(rows);
  for (let f = 0; f < folds; f++) {
    const others = rows.filter((_, i) => i % folds !== f);
    const means = groupMeans(group, y, others, groups, smoothing);
    rows.forEach((r, i) => {
      if (i % folds === f) out[r] = means[group[r] ?? 0] ?? 0;
    });
  }
  return out;
}

/** Mean and standard deviation of `values` (a constant column gets 1). */
export function meanStd(values: ArrayLike<number>): { mean: number; std: number } {
  let mean = 0;
  for (let i = 0; i < values.length; i++) mean += values[i] ?? 0;
  mean /= Math.max(values.length, 1);
  let variance = 0;
  for (let i = 0; i < values.length; i++) variance += ((values[i] ?? 0) - mean) ** 2;
  variance /= Math.max(values.length, 1);
  return { mean, std: variance > 0 ? Math.sqrt(variance) : 1 };
}

/** A matrix being filled, row-major, in 32-bit floats (what features.json's binary files hold). */
function emptyMatrix(rows: number, cols: number): Matrix & { data: Float32Array } {
  return { rows, cols, data: new Float32Array(rows * cols) };
}

/**
 * Builds train and test matrices for arrival delay. Every set has the standardised distance, log
 * distance and the departure time as a point on the clock (sine, cosine); `hourly` adds the
 * departure hour one-hot (23: hour 0 is the reference) and the distance band one-hot
 * (likewise); `target` adds target encodings:
 * the smoothed mean delay per departure hour, per distance band and per hour × band, and the share
 * of late flights per hour × band, from the train rows only (each train row's from the other
 * folds). Means, deviations, band edges and encodings never see a test row.
 */
export function buildFlightsDesign(
  train: FlightColumns,
  test: FlightColumns,
  options: FlightFeatureOptions,
): Design {
  const edges = bandEdges(train.distance, options.bands);
  const bands = edges.length + 1;
  const numeric = [
    { name: 'distance', of: (t: FlightColumns, i: number) => t.distance[i] ?? 0 },
    { name: 'log_distance', of: (t: FlightColumns, i: number) => Math.log(t.distance[i] ?? 1) },
    {
      name: 'departure_sin',
      of: (t: FlightColumns, i: number) => Math.sin((2 * Math.PI * (t.time[i] ?? 0)) / 24),
    },
    {
      name: 'departure_cos',
      of: (t: FlightColumns, i: number) => Math.cos((2 * Math.PI * (t.time[i] ?? 0)) / 24),
    },
  ];
  const n = train.delay.length;
  const standardiser = numeric.map((c) =>
    meanStd(Float64Array.from({ length: n }, (_, i) => c.of(train, i))),
  );
  const names = numeric.map((c) => c.name);
  const hourly = options.set === 'hourly' || options.set === 'target';
  // One-hot without a reference level (hour 0, the shortest band): with the intercept, a full
  // set of indicators would make the least-squares system singular.
  if (hourly)
    names.push(
      ...Array.from({ length: 23 }, (_, h) => `hour_${h + 1}`),
      ...Array.from({ length: bands - 1 }, (_, b) => `distance_band_${b + 1}`),
    );
  const encoded = ['mean_delay_by_hour', 'mean_delay_by_band', 'mean_delay_by_hour_band'];
  if (options.set === 'target') names.push(...encoded, 'late_share_by_hour_band');

  const hourOf = (t: FlightColumns): Int32Array =>
    Int32Array.from(t.time, (v) => Math.min(23, Math.floor(v)));
  const bandOfRows = (t: FlightColumns): Int32Array =>
    Int32Array.from(t.distance, (v) => bandOf(edges, v));
  const lateOf = (t: FlightColumns): number[] => t.delay.map((d) => (d >= options.late ? 1 : 0));

  // Target encodings: a group index per row for each encoding, and its smoothed mean.
  const encodings = (t: FlightColumns): { group: Int32Array; groups: number; y: number[] }[] => {
    const hour = hourOf(t);
    const band = bandOfRows(t);
    const cell = Int32Array.from(hour, (h, i) => h * bands + (band[i] ?? 0));
    return [
      { group: hour, groups: 24, y: t.delay },
      { group: band, groups: bands, y: t.delay },
      { group: cell, groups: 24 * bands, y: t.delay },
      { group: cell, groups: 24 * bands, y: lateOf(t) },
    ];
  };
  const trainEncodings = encodings(train);
  const allTrain = Array.from({ length: n }, (_, i) => i);
  const target = options.set === 'target';
  const trainEncoded = target
    ? trainEncodings.map((e) =>
        outOfFoldMeans(
          e.group,
          e.y,
          e.groups,
          options.encodingFolds,
          options.seed,
          options.smoothing,
        ),
      )
    : [];
  // Test rows: the means of all the train rows, looked up by the test row's group.
  const testEncoded = target
    ? encodings(test).map((e, k) => {
        const source = trainEncodings[k];
        if (source === undefined) throw new Error('the encodings differ in number');
        const means = groupMeans(source.group, source.y, allTrain, e.groups, options.smoothing);
        return Float64Array.from(e.group, (g) => means[g] ?? 0);
      })
    : [];
  // Standardise the encodings by the train rows' (out-of-fold) values.
  const encodingScale = trainEncoded.map(meanStd);

  const matrix = (t: FlightColumns, enc: Float64Array[]): Matrix => {
    const rows = t.delay.length;
    const m = emptyMatrix(rows, names.length);
    const hour = hourOf(t);
    const band = bandOfRows(t);
    for (let i = 0; i < rows; i++) {
      const base = i * names.length;
      let j = 0;
      for (const [c, column] of numeric.entries()) {
        const s = standardiser[c] ?? { mean: 0, std: 1 };
        m.data[base + j++] = (column.of(t, i) - s.mean) / s.std;
      }
      if (hourly) {
        const h = hour[i] ?? 0;
        if (h > 0) m.data[base + j + h - 1] = 1;
        j += 23;
        const b = band[i] ?? 0;
        if (b > 0) m.data[base + j + b - 1] = 1;
        j += bands - 1;
      }
      enc.forEach((col, k) => {
        const s = encodingScale[k] ?? { mean: 0, std: 1 };
        m.data[base + j++] = ((col[i] ?? 0) - s.mean) / s.std;
      });
    }
    return m;
  };
  return {
    names,
    train: matrix(train, trainEncoded),
    test: matrix(test, testEncoded),
    trainY: train.delay,
    testY: test.delay,
    trainLabel: lateOf(train),
    testLabel: lateOf(test),
  };
}
