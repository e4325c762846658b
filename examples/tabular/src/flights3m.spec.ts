import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { JobError } from './acai.js';
import { writeColumns } from './columns-file.js';
import {
  buildFlights3mDesign,
  cleanFlights3m,
  flightColumns,
  MISSING_AIRPORT,
  readFlights,
  readFlights3mParquet,
  splitFlights3m,
  type Flights3m,
  type Flights3mFeatureOptions,
} from './flights3m.js';
import { TableError } from './weather.js';

const PARQUET = path.resolve('node_modules/vega-datasets/data/flights-3m.parquet');
const dirs: string[] = [];
const tempDir = (): string => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'acai-flights3m-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const DAY_2001_01_01 = Date.UTC(2001, 0, 1) / 86_400_000;

/** A table from rows [day offset, minute, delay, distance, origin, destination]. */
function table(rows: [number, number, number, number, number, number][], airports = 4): Flights3m {
  return {
    airports: Array.from({ length: airports }, (_, i) => `A${i}`),
    day: Int32Array.from(rows, (r) => DAY_2001_01_01 + r[0]),
    minute: Int16Array.from(rows, (r) => r[1]),
    delay: Float32Array.from(rows, (r) => r[2]),
    distance: Float32Array.from(rows, (r) => r[3]),
    origin: Uint16Array.from(rows, (r) => r[4]),
    destination: Uint16Array.from(rows, (r) => r[5]),
  };
}

const OPTIONS: Flights3mFeatureOptions = {
  set: 'target',
  smoothing: 0,
  encodingFolds: 1,
  seed: 1,
  late: 15,
};

describe('flights-3m.parquet', () => {
  it('reads the first flights by column: local date and time, delay, distance and airports', async () => {
    const t = await readFlights3mParquet(PARQUET, { rowEnd: 1000 });
    expect(t.delay).toHaveLength(1000);
    // The file's first flight: 2001-01-01 00:01, LAS to PHL, 2176 miles, 33 minutes late.
    expect([t.day[0], t.minute[0], t.delay[0], t.distance[0]]).toEqual([
      DAY_2001_01_01,
      1,
      33,
      2176,
    ]);
    expect([t.airports[t.origin[0] ?? 0], t.airports[t.destination[0] ?? 0]]).toEqual([
      'LAS',
      'PHL',
    ]);
    expect(new Set(t.airports).size).toBe(t.airports.length);
    // Numbered by code, not by the order the file's chunks happened to arrive in: the same file
    // always gives the same columns.
    expect([...t.airports]).toEqual([...t.airports].sort());
    expect(Math.max(...t.origin, ...t.destination)).toBe(t.airports.length - 1);
  });

  it('says so when the file is not Parquet', async () => {
    const file = path.join(tempDir(), 'flights-3m.parquet');
    writeFileSync(file, 'date,delay\n2001-01-01,3\n');
    await expect(readFlights3mParquet(file)).rejects.toThrow(TableError);
    await expect(readFlights3mParquet(file)).rejects.toThrow(/not a Parquet file/);
  });
});

describe('cleaning and splitting', () => {
  it('drops each impossible flight and says why', () => {
    const t = table([
      [0, 60, 10, 500, 0, 1],
      [0, -1, 10, 500, 0, 1],
      [0, 60, Number.NaN, 500, 0, 1],
      [0, 60, 10, 500, MISSING_AIRPORT, 1],
      [0, 60, 10, 500, 2, 2],
      [0, 60, 10, 0, 0, 1],
      [0, 60, 2000, 500, 0, 1],
      [1, 90, -5, 700, 1, 0],
    ]);
    const { table: kept, dropped } = cleanFlights3m(t, { maxDelay: 1440 });
    expect(Array.from(kept.delay)).toEqual([10, -5]);
    expect(Array.from(kept.minute)).toEqual([60, 90]);
    expect(dropped).toEqual({
      'missing date': 1,
      'missing number': 1,
      'missing airport': 1,
      'same origin and destination': 1,
      'distance not positive': 1,
      'delay beyond the maximum': 1,
    });
  });

  it('splits every flight into train or test, the same way for the same seed', () => {
    const t = table(Array.from({ length: 50 }, (_, i) => [i, i, i, 100 + i, 0, 1]));
    const a = splitFlights3m(t, 0.2, 7);
    const b = splitFlights3m(t, 0.2, 7);
    expect(a.test.delay).toHaveLength(10);
    expect([...a.train.delay, ...a.test.delay].sort((x, y) => x - y)).toEqual(
      Array.from({ length: 50 }, (_, i) => i),
    );
    expect(Array.from(b.test.delay)).toEqual(Array.from(a.test.delay));
    expect(Array.from(splitFlights3m(t, 0.2, 8).test.delay)).not.toEqual(Array.from(a.test.delay));
  });

  it('stores the columns as binary files and reads them back, refusing a truncated one', () => {
    const dir = tempDir();
    const t = table([
      [0, 60, 10.5, 500, 0, 1],
      [3, 600, -5, 700, 1, 0],
    ]);
    writeColumns(dir, 'train', flightColumns(t), { airports: t.airports });
    expect(readFlights(dir, 'train')).toEqual(t);
    const { delay: _dropped, ...withoutDelay } = flightColumns(t);
    writeColumns(dir, 'partial', withoutDelay, { airports: t.airports });
    expect(() => readFlights(dir, 'partial')).toThrow(/\(partial\): column delay is missing/);
    truncateSync(path.join(dir, 'train.delay.float32'), 4);
    expect(() => readFlights(dir, 'train')).toThrow(JobError);
    expect(() => readFlights(dir, 'train')).toThrow(/run the step that wrote it again/);
  });
});

describe('features', () => {
  // Train: A0 -> A1 twice on Monday 2001-01-01 at 08:xx (10 and 30 minutes late), A1 -> A0 on
  // Tuesday at 17:00 (on time); test: A0 -> A1 on Monday at 08:30 (90 minutes late).
  const train = table([
    [0, 8 * 60, 10, 500, 0, 1],
    [0, 8 * 60 + 20, 30, 500, 0, 1],
    [1, 17 * 60, 0, 900, 1, 0],
  ]);
  const test = table([[0, 8 * 60 + 30, 90, 500, 0, 1]]);

  it('has 44 calendar columns, 47 with traffic and 53 with target encodings', () => {
    for (const [set, cols] of [
      ['calendar', 44],
      ['traffic', 47],
      ['target', 53],
    ] as const) {
      const d = buildFlights3mDesign(train, test, { ...OPTIONS, set });
      expect(d.names).toHaveLength(cols);
      expect(d.train.cols).toBe(cols);
      expect(d.test.rows).toBe(1);
    }
  });

  it('sets the hour, weekday and month indicators of each flight', () => {
    const d = buildFlights3mDesign(train, test, { ...OPTIONS, set: 'calendar' });
    const row = (i: number): string[] =>
      d.names.filter((_, j) => d.train.data[i * d.train.cols + j] === 1);
    // 2001-01-01 was a Monday; January is the reference month, Sunday the reference day.
    expect(row(0)).toEqual(['hour_8', 'weekday_mon']);
    expect(row(2)).toEqual(['hour_17', 'weekday_tue']);
  });

  it('counts the schedule over train and test flights: three leave A0 on Monday at 8', () => {
    const d = buildFlights3mDesign(train, test, { ...OPTIONS, set: 'traffic' });
    const col = d.names.indexOf('flights_from_origin_that_hour');
    const raw = [0, 1, 2].map((i) => d.train.data[i * d.train.cols + col] ?? 0);
    // Standardised over the train rows: rows 0 and 1 (3 flights) above row 2 (1 flight).
    expect(raw[0]).toBeCloseTo(raw[1] ?? 0, 6);
    expect(raw[0]).toBeGreaterThan(raw[2] ?? 0);
  });

  it('never lets a test flight delay into any column, train or test', () => {
    const late = table([[0, 8 * 60 + 30, 900, 500, 0, 1]]);
    const a = buildFlights3mDesign(train, test, OPTIONS);
    const b = buildFlights3mDesign(train, late, OPTIONS);
    expect(Array.from(b.train.data)).toEqual(Array.from(a.train.data));
    expect(Array.from(b.test.data)).toEqual(Array.from(a.test.data));
    expect(b.testY).toEqual([900]);
    expect(b.testLabel).toEqual([1]);
  });

  it("encodes a test flight's route with the train flights' mean delay on it", () => {
    const d = buildFlights3mDesign(train, test, OPTIONS);
    const col = d.names.indexOf('mean_delay_by_route');
    // Train rows on A0 -> A1 have mean 20 (their own encoding, with one fold, is 20 as well); the
    // test row on the same route gets the same value.
    expect(d.test.data[col]).toBeCloseTo(d.train.data[col] ?? Number.NaN, 6);
  });
});
