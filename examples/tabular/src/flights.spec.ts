import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { JobError } from './acai.js';
import { readDesign, writeBinaryDesign } from './design-file.js';
import {
  bandEdges,
  bandOf,
  buildFlightsDesign,
  cleanFlights,
  groupMeans,
  outOfFoldMeans,
  parseFlightsJson,
  splitFlights,
  type FlightColumns,
  type FlightFeatureOptions,
} from './flights.js';
import { Rng } from './rng.js';
import { TableError } from './weather.js';

const JSON_TEXT = JSON.stringify([
  { delay: 12, distance: 1452, time: 6.5 },
  { delay: -3, distance: 373, time: 23.9 },
  { delay: null, distance: 500, time: 10 },
  { delay: 5, distance: 0, time: 10 },
  { delay: 5, distance: 800, time: 24 },
  { delay: 2000, distance: 800, time: 12 },
  { delay: 40, distance: 2399, time: 18.25 },
]);

describe('the flights table', () => {
  it('parses the flights by column, keeping a missing value as NaN', () => {
    const table = parseFlightsJson(JSON_TEXT);
    expect(table.delay).toHaveLength(7);
    expect(table.distance.slice(0, 2)).toEqual([1452, 373]);
    expect(table.time[0]).toBe(6.5);
    expect(table.delay[2]).toBeNaN();
  });

  it('refuses what is not an array of flights with numbers', () => {
    expect(() => parseFlightsJson('{"delay": 1}')).toThrow(TableError);
    expect(() => parseFlightsJson('[{"delay": "late", "distance": 1, "time": 2}]')).toThrow(
      'flight 0: delay is "late", not a number',
    );
    expect(() => parseFlightsJson('[1,')).toThrow('not JSON');
  });

  it('drops impossible flights and says why', () => {
    const { table, dropped } = cleanFlights(parseFlightsJson(JSON_TEXT), { maxDelay: 1440 });
    expect(table.delay).toEqual([12, -3, 40]);
    expect(dropped).toEqual({
      'missing number': 1,
      'distance not positive': 1,
      'time outside 0-24 h': 1,
      'delay beyond the maximum': 1,
    });
  });

  it('splits the same way for the same seed, keeping every flight once', () => {
    const n = 50;
    const table: FlightColumns = {
      delay: Array.from({ length: n }, (_, i) => i),
      distance: Array.from({ length: n }, (_, i) => 100 + i),
      time: Array.from({ length: n }, (_, i) => i % 24),
    };
    const a = splitFlights(table, 0.2, 1);
    expect(a.test.delay).toHaveLength(10);
    expect([...a.train.delay, ...a.test.delay].sort((x, y) => x - y)).toEqual(table.delay);
    // The columns stay aligned: each row's distance is still 100 + its delay.
    a.train.delay.forEach((d, i) => expect(a.train.distance[i]).toBe(100 + d));
    expect(splitFlights(table, 0.2, 1)).toEqual(a);
    expect(splitFlights(table, 0.2, 2)).not.toEqual(a);
  });
});

describe('flight features', () => {
  it('cuts quantile bands and finds a value’s band', () => {
    const values = Array.from({ length: 100 }, (_, i) => i);
    const edges = bandEdges(values, 4);
    expect(edges).toEqual([25, 50, 75]);
    expect([0, 24, 25, 74, 75, 99].map((v) => bandOf(edges, v))).toEqual([0, 0, 1, 2, 3, 3]);
    // Ties collapse: a column with two values gives two bands, whatever was asked.
    expect(bandEdges([1, 1, 1, 2, 2, 2], 5)).toHaveLength(1);
  });

  it('smooths group means toward the overall mean', () => {
    const group = [0, 0, 1];
    const target = [10, 20, 60];
    const means = groupMeans(group, target, [0, 1, 2], 3, 3);
    // Overall mean 30: group 0 (30 + 3 × 30) / (2 + 3); group 1 (60 + 90) / 4; empty group 2: 30.
    expect([...means]).toEqual([24, 37.5, 30]);
    expect([...groupMeans(group, target, [0, 1, 2], 3, 0)].slice(0, 2)).toEqual([15, 60]);
  });

  const random = (n: number, seed: number): FlightColumns => {
    const rng = new Rng(seed);
    const time = Array.from({ length: n }, () => rng.next() * 24);
    const distance = Array.from({ length: n }, () => 100 + Math.floor(rng.next() * 2400));
    // Evening flights are later: something for the encodings to find.
    const delay = time.map((t) => Math.round((t > 17 ? 30 : 0) + rng.normal() * 10));
    return { delay, distance, time };
  };
  const train = random(2000, 1);
  const test = random(500, 2);
  const options: FlightFeatureOptions = {
    set: 'target',
    bands: 5,
    smoothing: 20,
    encodingFolds: 5,
    seed: 1,
    late: 15,
  };

  it('builds each feature set with as many columns as names, and late labels', () => {
    const counts = (['basic', 'hourly', 'target'] as const).map((set) => {
      const design = buildFlightsDesign(train, test, { ...options, set });
      expect(design.train.cols).toBe(design.names.length);
      expect(design.train.data).toHaveLength(train.delay.length * design.names.length);
      expect(design.test.data).toHaveLength(test.delay.length * design.names.length);
      return design.names.length;
    });
    // 4 numeric; + 23 hours and 4 bands (a reference level each); + 4 encodings.
    expect(counts).toEqual([4, 31, 35]);
    const design = buildFlightsDesign(train, test, options);
    expect(design.trainLabel).toEqual(train.delay.map((d) => (d >= 15 ? 1 : 0)));
    expect(design.testY).toEqual(test.delay);
  });

  it('one-hot encodes the departure hour against hour 0', () => {
    const design = buildFlightsDesign(
      { delay: [1, 2, 3], distance: [100, 200, 300], time: [0.5, 13.25, 23.99] },
      { delay: [4], distance: [150], time: [13.9] },
      { ...options, set: 'hourly', bands: 2 },
    );
    const row = (r: number): number[] =>
      Array.from(design.test.data).slice(r * design.test.cols, (r + 1) * design.test.cols);
    const hours = design.names
      .map((n, j) => (n.startsWith('hour_') ? j : -1))
      .filter((j) => j >= 0);
    expect(hours.filter((j) => row(0)[j] === 1).map((j) => design.names[j])).toEqual(['hour_13']);
    const trainRow0 = Array.from(design.train.data).slice(0, design.train.cols);
    expect(hours.every((j) => trainRow0[j] === 0)).toBe(true);
  });

  it('never lets a test delay into the features', () => {
    const shifted = { ...test, delay: test.delay.map((d) => d + 1000) };
    for (const set of ['basic', 'hourly', 'target'] as const) {
      const a = buildFlightsDesign(train, test, { ...options, set });
      const b = buildFlightsDesign(train, shifted, { ...options, set });
      expect(Array.from(b.test.data)).toEqual(Array.from(a.test.data));
      expect(Array.from(b.train.data)).toEqual(Array.from(a.train.data));
    }
  });

  it('encodes each train row out of fold: its own target never enters its encoding', () => {
    const group = train.time.map((t) => Math.floor(t));
    const changed = train.delay.map((d, i) => (i === 7 ? d + 500 : d));
    const encode = (y: number[], folds: number): Float64Array =>
      outOfFoldMeans(group, y, 24, folds, 1, 20);
    expect(encode(changed, 5)[7]).toBe(encode(train.delay, 5)[7]);
    // Other rows of its group in other folds see it.
    const moved = [...encode(changed, 5)].filter((v, i) => v !== encode(train.delay, 5)[i]);
    expect(moved.length).toBeGreaterThan(0);
    // In-sample (one fold), it leaks into its own encoding.
    expect(encode(changed, 1)[7]).toBeGreaterThan((encode(train.delay, 1)[7] ?? 0) + 1);
  });
});

describe('features.json with binary matrices', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'acai-flights-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads back what it wrote, in 32-bit floats, and refuses a truncated file', () => {
    const design = {
      names: ['a', 'b'],
      train: { rows: 2, cols: 2, data: [1, 0.1, -2, 3] },
      test: { rows: 1, cols: 2, data: [5, 6] },
      trainY: [1, 2],
      testY: [3],
      trainLabel: [0, 1],
      testLabel: [1],
    };
    writeBinaryDesign(dir, design, { params: { set: 'basic' } });
    const read = readDesign(dir);
    expect(read.names).toEqual(['a', 'b']);
    expect(Array.from(read.train.data)).toEqual([1, Math.fround(0.1), -2, 3]);
    expect(Array.from(read.test.data)).toEqual([5, 6]);
    expect([read.trainY, read.testY, read.trainLabel, read.testLabel]).toEqual([
      [1, 2],
      [3],
      [0, 1],
      [1],
    ]);
    // The targets and labels sit beside it too, not in features.json.
    expect(readFileSync(path.join(dir, 'features.json'), 'utf8')).toContain(
      '"trainY":{"length":2,"file":"trainY.f32"}',
    );
    truncateSync(path.join(dir, 'train.f32'), 12);
    expect(() => readDesign(dir)).toThrow(JobError);
    expect(() => readDesign(dir)).toThrow('run the features step again');
  });

  it('still reads a features.json whose targets and labels are inline (written before they moved)', () => {
    const old = mkdtempSync(path.join(os.tmpdir(), 'acai-flights-'));
    writeFileSync(
      path.join(old, 'features.json'),
      JSON.stringify({
        names: ['a'],
        train: { rows: 1, cols: 1, data: [2] },
        test: { rows: 1, cols: 1, data: [4] },
        trainY: [7],
        testY: [8],
        trainLabel: [0],
        testLabel: [1],
      }),
    );
    expect(readDesign(old)).toMatchObject({
      trainY: [7],
      testY: [8],
      trainLabel: [0],
      testLabel: [1],
    });
    rmSync(old, { recursive: true, force: true });
  });
});
