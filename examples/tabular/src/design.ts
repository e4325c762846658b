// Feature matrices from cleaned rows: the design a model is fitted on. Every variant standardises
// the numeric columns with the train rows' mean and standard deviation (never the test rows').
import type { CleanRow } from './weather.js';

/**
 * A dense row-major matrix: inline in features.json (the weather table's), or in a binary file of
 * 32-bit floats beside it (the flights table's; see design-file.ts).
 */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: ArrayLike<number>;
}

export const FEATURE_SETS = ['standard', 'onehot', 'poly'] as const;
export type FeatureSet = (typeof FEATURE_SETS)[number];

export interface FeatureOptions {
  readonly set: FeatureSet;
  /** For `poly`: the highest degree of the products of numeric columns. */
  readonly degree: number;
  /** A day at least this warm (temp_max, °C) is labelled 1 for classifiers. */
  readonly warm: number;
}

/** What a model is fitted on and scored against; targets are temp_max (°C) and warm (0/1). */
export interface Design {
  readonly names: string[];
  readonly train: Matrix;
  readonly test: Matrix;
  readonly trainY: number[];
  readonly testY: number[];
  readonly trainLabel: number[];
  readonly testLabel: number[];
}

const NUMERIC: readonly { name: string; of: (r: CleanRow) => number }[] = [
  { name: 'temp_min', of: (r) => r.tempMin },
  { name: 'log_precipitation', of: (r) => Math.log1p(r.precipitation) },
  { name: 'wind', of: (r) => r.wind },
  { name: 'season_sin', of: (r) => Math.sin((2 * Math.PI * r.dayOfYear) / 365.25) },
  { name: 'season_cos', of: (r) => Math.cos((2 * Math.PI * r.dayOfYear) / 365.25) },
  { name: 'year', of: (r) => r.year - 2012 },
];

/** Mean and standard deviation of each numeric column over `rows` (a constant column gets 1). */
export function columnStats(rows: readonly CleanRow[]): { mean: number[]; std: number[] } {
  const mean = NUMERIC.map((c) => rows.reduce((a, r) => a + c.of(r), 0) / rows.length);
  const std = NUMERIC.map((c, j) => {
    const m = mean[j] ?? 0;
    const variance = rows.reduce((a, r) => a + (c.of(r) - m) ** 2, 0) / rows.length;
    return variance > 0 ? Math.sqrt(variance) : 1;
  });
  return { mean, std };
}

/** Every multiset of `k` column indices out of `n`, in lexicographic order: the monomials of degree k. */
export function monomials(n: number, k: number): number[][] {
  const out: number[][] = [];
  const walk = (start: number, picked: number[]): void => {
    if (picked.length === k) {
      out.push([...picked]);
      return;
    }
    for (let i = start; i < n; i++) walk(i, [...picked, i]);
  };
  walk(0, []);
  return out;
}

/** Builds train and test matrices for the chosen feature set. */
export function buildDesign(
  train: readonly CleanRow[],
  test: readonly CleanRow[],
  options: FeatureOptions,
): Design {
  const { mean, std } = columnStats(train);
  const z = (r: CleanRow): number[] =>
    NUMERIC.map((c, j) => (c.of(r) - (mean[j] ?? 0)) / (std[j] ?? 1));
  const numericNames = NUMERIC.map((c) => c.name);
  const weathers = [...new Set(train.map((r) => r.weather))].sort();
  const terms =
    options.set === 'poly'
      ? Array.from({ length: options.degree }, (_, d) => monomials(NUMERIC.length, d + 1)).flat()
      : [];

  const names: string[] = [];
  let row: (r: CleanRow) => number[];
  switch (options.set) {
    case 'standard':
      names.push(...numericNames, 'seattle');
      row = (r) => [...z(r), r.location === 'Seattle' ? 1 : 0];
      break;
    case 'onehot':
      names.push(
        ...numericNames,
        'seattle',
        ...Array.from({ length: 12 }, (_, m) => `month_${m + 1}`),
        ...weathers.map((w) => `weather_${w}`),
      );
      row = (r) => [
        ...z(r),
        r.location === 'Seattle' ? 1 : 0,
        ...Array.from({ length: 12 }, (_, m) => (r.month === m + 1 ? 1 : 0)),
        ...weathers.map((w) => (r.weather === w ? 1 : 0)),
      ];
      break;
    case 'poly':
      names.push(
        ...terms.map((t) => t.map((j) => numericNames[j]).join('*')),
        'seattle',
        ...numericNames.map((n) => `seattle*${n}`),
      );
      row = (r) => {
        const v = z(r);
        const seattle = r.location === 'Seattle' ? 1 : 0;
        return [
          ...terms.map((t) => t.reduce((a, j) => a * (v[j] ?? 0), 1)),
          seattle,
          ...v.map((x) => seattle * x),
        ];
      };
      break;
    default: {
      const _exhaustive: never = options.set;
      throw new Error(`unknown feature set ${String(_exhaustive)}`);
    }
  }
  const matrix = (rows: readonly CleanRow[]): Matrix => ({
    rows: rows.length,
    cols: names.length,
    data: rows.flatMap(row),
  });
  const label = (r: CleanRow): number => (r.tempMax >= options.warm ? 1 : 0);
  return {
    names,
    train: matrix(train),
    test: matrix(test),
    trainY: train.map((r) => r.tempMax),
    testY: test.map((r) => r.tempMax),
    trainLabel: train.map(label),
    testLabel: test.map(label),
  };
}
