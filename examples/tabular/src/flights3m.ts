// The large flights table: 3,000,000 U.S. domestic flights of 2001 (vega-datasets'
// flights-3m.parquet, from the Bureau of Transportation Statistics), with what a data scientist
// needs for feature engineering on it:
//
//   date         departure, local date and time (a Parquet timestamp)
//   delay        arrival delay in minutes (negative: early)
//   distance     miles flown
//   origin       departure airport (IATA code)
//   destination  arrival airport
//
// Rows are kept by column in typed arrays (see columns-file.ts): 3 million rows as objects would
// take gigabytes. Airports are numbered in the order of their codes; `airports[i]` is airport i's
// code.
import zlib from 'node:zlib';
import { asyncBufferFromFile, parquetMetadataAsync, parquetRead } from 'hyparquet';
import { JobError } from './acai.js';
import { readColumns, type TypedColumn } from './columns-file.js';
import type { Design, Matrix } from './design.js';
import { groupMeans, meanStd, outOfFoldMeans } from './flights.js';
import { splitRows, TableError } from './weather.js';

export const FLIGHTS3M_FIELDS = ['date', 'delay', 'distance', 'origin', 'destination'] as const;

/** The table by column; every array has the same length. */
export interface Flights3m {
  readonly airports: readonly string[];
  /** Local date of departure, days since 1970-01-01. */
  readonly day: Int32Array;
  /** Local time of departure, minutes after midnight; -1 when the date was missing. */
  readonly minute: Int16Array;
  /** Arrival delay, minutes; NaN when missing. */
  readonly delay: Float32Array;
  /** Miles; NaN when missing. */
  readonly distance: Float32Array;
  /** Index into `airports`; MISSING_AIRPORT when missing. */
  readonly origin: Uint16Array;
  readonly destination: Uint16Array;
}

export const MISSING_AIRPORT = 0xffff;
const DAY_MS = 86_400_000;

/** The column arrays of a table, as columns-file.ts stores them. */
export function flightColumns(t: Flights3m): Record<string, TypedColumn> {
  return {
    day: t.day,
    minute: t.minute,
    delay: t.delay,
    distance: t.distance,
    origin: t.origin,
    destination: t.destination,
  };
}

/** A table from stored columns and its airports, checking that every column is there. */
export function flightsFromColumns(
  columns: Record<string, ArrayLike<number>>,
  airports: unknown,
): Flights3m {
  const want = {
    day: Int32Array,
    minute: Int16Array,
    delay: Float32Array,
    distance: Float32Array,
    origin: Uint16Array,
    destination: Uint16Array,
  } as const;
  for (const [name, type] of Object.entries(want))
    if (!(columns[name] instanceof type))
      throw new TableError(`column ${name} is missing or not ${type.name}`);
  if (!Array.isArray(airports) || !airports.every((a) => typeof a === 'string'))
    throw new TableError('the airports are not a list of codes');
  return { airports, ...(columns as unknown as Omit<Flights3m, 'airports'>) };
}

/** Reads the table `name` that `writeColumns` wrote into `folder`; a JobError names what is wrong. */
export function readFlights(folder: string, name: string): Flights3m {
  const stored = readColumns(folder, name);
  try {
    return flightsFromColumns(stored.columns, stored.extra['airports']);
  } catch (error) {
    if (error instanceof TableError) throw new JobError(`${folder} (${name}): ${error.message}`);
    throw error;
  }
}

/** A value as an error message shows it (JSON, save a bigint, which JSON cannot hold). */
function shown(value: unknown): string {
  return typeof value === 'bigint' ? `${value}n` : (JSON.stringify(value) ?? String(typeof value));
}

function zstd(input: Uint8Array): Uint8Array {
  const decompress = (zlib as { zstdDecompressSync?: (b: Uint8Array) => Buffer })
    .zstdDecompressSync;
  if (decompress === undefined)
    throw new TableError(
      `this Node (${process.version}) cannot decompress zstd, which the file uses: run it with Node 22.15 or later`,
    );
  return new Uint8Array(decompress(input));
}

/**
 * Reads flights-3m.parquet (or the first `rowEnd` rows) into columns. Fails with a TableError that
 * names the problem when the file is not Parquet, lacks a field, or holds a value of another type.
 */
export async function readFlights3mParquet(
  file: string,
  options: { rowEnd?: number } = {},
): Promise<Flights3m> {
  const buffer = await asyncBufferFromFile(file);
  let metadata;
  try {
    metadata = await parquetMetadataAsync(buffer);
  } catch (error) {
    throw new TableError(
      `not a Parquet file: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const names = metadata.schema.map((s) => s.name);
  const missing = FLIGHTS3M_FIELDS.filter((f) => !names.includes(f));
  if (missing.length > 0)
    throw new TableError(`no ${missing.join(', ')} column (it has ${names.slice(1).join(', ')})`);
  const n = Math.min(Number(metadata.num_rows), options.rowEnd ?? Infinity);
  const day = new Int32Array(n);
  const minute = new Int16Array(n);
  const delay = new Float32Array(n);
  const distance = new Float32Array(n);
  const origin = new Uint16Array(n);
  const destination = new Uint16Array(n);
  const airports: string[] = [];
  const index = new Map<string, number>();
  const airport = (value: unknown, row: number, field: string): number => {
    if (value === null || value === undefined) return MISSING_AIRPORT;
    if (typeof value !== 'string' || value === '')
      throw new TableError(`flight ${row}: ${field} is ${shown(value)}, not an airport code`);
    let i = index.get(value);
    if (i === undefined) {
      i = airports.length;
      if (i >= MISSING_AIRPORT) throw new TableError(`more than ${MISSING_AIRPORT} airports`);
      airports.push(value);
      index.set(value, i);
    }
    return i;
  };
  const number = (value: unknown, row: number, field: string): number => {
    if (value === null || value === undefined) return Number.NaN;
    if (typeof value === 'bigint' || typeof value === 'number') return Number(value);
    throw new TableError(`flight ${row}: ${field} is ${shown(value)}, not a number`);
  };
  const filled: Record<string, number> = {};
  await parquetRead({
    file: buffer,
    metadata,
    columns: [...FLIGHTS3M_FIELDS],
    rowEnd: n,
    compressors: { ZSTD: zstd },
    // A chunk is a whole column chunk of a row group; it may run past rowEnd.
    onChunk: ({ columnName, columnData, rowStart, rowEnd }) => {
      const end = Math.min(rowEnd, n);
      for (let row = rowStart; row < end; row++) {
        const value: unknown = columnData[row - rowStart];
        switch (columnName) {
          case 'date': {
            const ms = value instanceof Date ? value.getTime() : Number.NaN;
            if (Number.isNaN(ms)) {
              if (value !== null && value !== undefined)
                throw new TableError(`flight ${row}: date is ${shown(value)}, not a timestamp`);
              minute[row] = -1;
            } else {
              day[row] = Math.floor(ms / DAY_MS);
              minute[row] = Math.floor((ms - (day[row] ?? 0) * DAY_MS) / 60_000);
            }
            break;
          }
          case 'delay':
            delay[row] = number(value, row, columnName);
            break;
          case 'distance':
            distance[row] = number(value, row, columnName);
            break;
          case 'origin':
            origin[row] = airport(value, row, columnName);
            break;
          case 'destination':
            destination[row] = airport(value, row, columnName);
            break;
          default:
            return;
        }
      }
      filled[columnName] = (filled[columnName] ?? 0) + Math.max(0, end - rowStart);
    },
  });
  for (const field of FLIGHTS3M_FIELDS)
    if (filled[field] !== n)
      throw new TableError(`read ${filled[field] ?? 0} values of ${field}, expected ${n}`);
  // Chunks of different columns and row groups arrive in any order, so the airports were numbered
  // in an order that changes from run to run: renumbered by code, so that the same file always
  // gives the same bytes (and the steps after it the same signatures).
  const sorted = [...airports].sort();
  const renumber = Uint16Array.from(airports, (code) => sorted.indexOf(code));
  for (const column of [origin, destination])
    for (let i = 0; i < n; i++) {
      const a = column[i] ?? MISSING_AIRPORT;
      if (a !== MISSING_AIRPORT) column[i] = renumber[a] ?? a;
    }
  return { airports: sorted, day, minute, delay, distance, origin, destination };
}

/** The rows `rows` of `t`, in that order. */
export function takeFlights(t: Flights3m, rows: ArrayLike<number>): Flights3m {
  const take = <A extends Int32Array | Int16Array | Float32Array | Uint16Array>(column: A): A => {
    const out = new (column.constructor as new (n: number) => A)(rows.length);
    for (let i = 0; i < rows.length; i++) out[i] = column[rows[i] ?? 0] ?? 0;
    return out;
  };
  return {
    airports: t.airports,
    day: take(t.day),
    minute: take(t.minute),
    delay: take(t.delay),
    distance: take(t.distance),
    origin: take(t.origin),
    destination: take(t.destination),
  };
}

/**
 * Drops flights with a missing date, number or airport, a distance that is not positive, the same
 * origin and destination, or a delay beyond ±`maxDelay` minutes. Returns the rest and why the others
 * went.
 */
export function cleanFlights3m(
  t: Flights3m,
  options: { maxDelay: number },
): { table: Flights3m; dropped: Record<string, number> } {
  const keep: number[] = [];
  const dropped: Record<string, number> = {};
  const drop = (why: string): void => {
    dropped[why] = (dropped[why] ?? 0) + 1;
  };
  for (let i = 0; i < t.delay.length; i++) {
    const delay = t.delay[i] ?? Number.NaN;
    const distance = t.distance[i] ?? Number.NaN;
    if ((t.minute[i] ?? -1) < 0) drop('missing date');
    else if (!Number.isFinite(delay) || !Number.isFinite(distance)) drop('missing number');
    else if (t.origin[i] === MISSING_AIRPORT || t.destination[i] === MISSING_AIRPORT)
      drop('missing airport');
    else if (t.origin[i] === t.destination[i]) drop('same origin and destination');
    else if (distance <= 0) drop('distance not positive');
    else if (Math.abs(delay) > options.maxDelay) drop('delay beyond the maximum');
    else keep.push(i);
  }
  return { table: takeFlights(t, keep), dropped };
}

/** A seeded split of the rows (the same shuffle as the other tables' `splitRows`). */
export function splitFlights3m(
  t: Flights3m,
  testFraction: number,
  seed: number,
): { train: Flights3m; test: Flights3m } {
  const { train, test } = splitRows(
    Array.from({ length: t.delay.length }, (_, i) => i),
    testFraction,
    seed,
  );
  return { train: takeFlights(t, train), test: takeFlights(t, test) };
}

export const FLIGHTS3M_FEATURE_SETS = ['calendar', 'traffic', 'target'] as const;
export type Flights3mFeatureSet = (typeof FLIGHTS3M_FEATURE_SETS)[number];

export interface Flights3mFeatureOptions {
  readonly set: Flights3mFeatureSet;
  /** `target`: the weight, in flights, of the overall mean in each group's smoothed mean. */
  readonly smoothing: number;
  /** `target`: train rows get their encodings from the other folds' rows (no leak). */
  readonly encodingFolds: number;
  readonly seed: number;
  /** A flight at least this many minutes late is labelled late (1) for classifiers. */
  readonly late: number;
}

/** Weekday (0 Sunday) and month (0 January) of a day number. */
function calendarOf(day: number): { weekday: number; month: number } {
  return { weekday: (((day + 4) % 7) + 7) % 7, month: new Date(day * DAY_MS).getUTCMonth() };
}

/**
 * Builds train and test matrices for arrival delay, as a Kaggle notebook on this table would:
 *
 * - `calendar`: standardised distance and log distance, the departure time on the clock (sine,
 *   cosine), and the departure hour, weekday and month one-hot (hour 0, Sunday, January the
 *   reference levels): 44 columns.
 * - `traffic`: calendar plus how busy the airports are: flights leaving the origin that day and
 *   that hour, and flights arriving at the destination that day, counted over the whole schedule
 *   (train and test rows: it is known before any flight leaves; no delay enters it): 47.
 * - `target`: traffic plus six target encodings: the smoothed mean delay by origin, destination,
 *   route and origin × hour, and the share of late flights by origin and by route; each train row's
 *   from the other folds' rows, each test row's from all train rows: 53.
 *
 * Means, deviations and encodings never see a test row's delay.
 */
export function buildFlights3mDesign(
  train: Flights3m,
  test: Flights3m,
  options: Flights3mFeatureOptions,
): Design {
  const a = train.airports.length;
  if (test.airports.length !== a)
    throw new TableError('train and test number airports differently');
  const traffic = options.set === 'traffic' || options.set === 'target';
  const target = options.set === 'target';

  // The calendar of each distinct day, once (a year has 365).
  const calendar = new Map<number, { weekday: number; month: number }>();
  const calendarFor = (day: number): { weekday: number; month: number } => {
    let c = calendar.get(day);
    if (c === undefined) calendar.set(day, (c = calendarOf(day)));
    return c;
  };

  // Traffic: dense counts over (airport, day) and (airport, day, hour).
  let firstDay = Infinity;
  let lastDay = -Infinity;
  for (const t of [train, test])
    for (let i = 0; i < t.day.length; i++) {
      firstDay = Math.min(firstDay, t.day[i] ?? 0);
      lastDay = Math.max(lastDay, t.day[i] ?? 0);
    }
  const days = Number.isFinite(firstDay) ? lastDay - firstDay + 1 : 0;
  const hourOf = (t: Flights3m, i: number): number => Math.floor((t.minute[i] ?? 0) / 60);
  const fromDay = new Int32Array(traffic ? a * days : 0);
  const toDay = new Int32Array(traffic ? a * days : 0);
  const fromHour = new Int32Array(traffic ? a * days * 24 : 0);
  if (traffic)
    for (const t of [train, test])
      for (let i = 0; i < t.day.length; i++) {
        const d = (t.day[i] ?? 0) - firstDay;
        const o = (t.origin[i] ?? 0) * days + d;
        fromDay[o] = (fromDay[o] ?? 0) + 1;
        fromHour[o * 24 + hourOf(t, i)] = (fromHour[o * 24 + hourOf(t, i)] ?? 0) + 1;
        const to = (t.destination[i] ?? 0) * days + d;
        toDay[to] = (toDay[to] ?? 0) + 1;
      }

  type Column = (t: Flights3m, i: number) => number;
  const numeric: { name: string; of: Column }[] = [
    { name: 'distance', of: (t, i) => t.distance[i] ?? 0 },
    { name: 'log_distance', of: (t, i) => Math.log(t.distance[i] ?? 1) },
    { name: 'departure_sin', of: (t, i) => Math.sin((2 * Math.PI * (t.minute[i] ?? 0)) / 1440) },
    { name: 'departure_cos', of: (t, i) => Math.cos((2 * Math.PI * (t.minute[i] ?? 0)) / 1440) },
  ];
  if (traffic) {
    const dayOf = (t: Flights3m, i: number): number => (t.day[i] ?? 0) - firstDay;
    numeric.push(
      {
        name: 'flights_from_origin_that_day',
        of: (t, i) => fromDay[(t.origin[i] ?? 0) * days + dayOf(t, i)] ?? 0,
      },
      {
        name: 'flights_from_origin_that_hour',
        of: (t, i) => fromHour[((t.origin[i] ?? 0) * days + dayOf(t, i)) * 24 + hourOf(t, i)] ?? 0,
      },
      {
        name: 'flights_to_destination_that_day',
        of: (t, i) => toDay[(t.destination[i] ?? 0) * days + dayOf(t, i)] ?? 0,
      },
    );
  }
  const n = train.delay.length;
  const standardiser = numeric.map((c) =>
    meanStd(Float64Array.from({ length: n }, (_, i) => c.of(train, i))),
  );

  const trainY = Array.from(train.delay);
  const lateOf = (t: Flights3m): number[] =>
    Array.from(t.delay, (d) => (d >= options.late ? 1 : 0));
  const trainLate = lateOf(train);
  // Target encodings: a group per row, the number of groups, and the target.
  const groupsOf = (
    t: Flights3m,
  ): { name: string; group: Int32Array; groups: number; y: ArrayLike<number> }[] => {
    const route = Int32Array.from(t.origin, (o, i) => o * a + (t.destination[i] ?? 0));
    const originHour = Int32Array.from(t.origin, (o, i) => o * 24 + hourOf(t, i));
    const origin = Int32Array.from(t.origin);
    return [
      { name: 'mean_delay_by_origin', group: origin, groups: a, y: trainY },
      {
        name: 'mean_delay_by_destination',
        group: Int32Array.from(t.destination),
        groups: a,
        y: trainY,
      },
      { name: 'mean_delay_by_route', group: route, groups: a * a, y: trainY },
      { name: 'mean_delay_by_origin_hour', group: originHour, groups: a * 24, y: trainY },
      { name: 'late_share_by_origin', group: origin, groups: a, y: trainLate },
      { name: 'late_share_by_route', group: route, groups: a * a, y: trainLate },
    ];
  };
  const trainGroups = target ? groupsOf(train) : [];
  const trainEncoded = trainGroups.map((e) =>
    outOfFoldMeans(e.group, e.y, e.groups, options.encodingFolds, options.seed, options.smoothing),
  );
  const allTrain = Array.from({ length: n }, (_, i) => i);
  const testEncoded = target
    ? groupsOf(test).map((e, k) => {
        const source = trainGroups[k];
        if (source === undefined) throw new Error('the encodings differ in number');
        const means = groupMeans(source.group, source.y, allTrain, e.groups, options.smoothing);
        return Float64Array.from(e.group, (g) => means[g] ?? 0);
      })
    : [];
  const encodingScale = trainEncoded.map(meanStd);

  const names = [
    ...numeric.map((c) => c.name),
    ...Array.from({ length: 23 }, (_, h) => `hour_${h + 1}`),
    ...['mon', 'tue', 'wed', 'thu', 'fri', 'sat'].map((d) => `weekday_${d}`),
    ...Array.from({ length: 11 }, (_, m) => `month_${m + 2}`),
    ...trainGroups.map((e) => e.name),
  ];
  const matrix = (t: Flights3m, encoded: Float64Array[]): Matrix => {
    const rows = t.delay.length;
    const cols = names.length;
    const data = new Float32Array(rows * cols);
    for (let i = 0; i < rows; i++) {
      const base = i * cols;
      let j = 0;
      numeric.forEach((c, k) => {
        const s = standardiser[k] ?? { mean: 0, std: 1 };
        data[base + j++] = (c.of(t, i) - s.mean) / s.std;
      });
      const hour = hourOf(t, i);
      if (hour > 0) data[base + j + hour - 1] = 1;
      j += 23;
      const { weekday, month } = calendarFor(t.day[i] ?? 0);
      if (weekday > 0) data[base + j + weekday - 1] = 1;
      j += 6;
      if (month > 0) data[base + j + month - 1] = 1;
      j += 11;
      encoded.forEach((col, k) => {
        const s = encodingScale[k] ?? { mean: 0, std: 1 };
        data[base + j++] = ((col[i] ?? 0) - s.mean) / s.std;
      });
    }
    return { rows, cols, data };
  };
  return {
    names,
    train: matrix(train, trainEncoded),
    test: matrix(test, testEncoded),
    trainY,
    testY: Array.from(test.delay),
    trainLabel: trainLate,
    testLabel: lateOf(test),
  };
}
