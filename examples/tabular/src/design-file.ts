// features.json, as the features steps write it and the model steps read it. The weather table's
// matrices are small and sit inline as JSON arrays; a large table's (flights: 200,000 rows × 40-odd
// columns), with their targets and labels, go beside it as little-endian 32-bit floats, row-major
// (`train.f32`, `test.f32`, `trainY.f32`, …), which write and read in a fraction of the time and a
// quarter of the bytes of their JSON.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { readJson, writeJson } from './acai.js';
import { readBinary } from './columns-file.js';
import type { Design, Matrix } from './design.js';

export const FEATURES_FILE = 'features.json';

/** The tables a model step can read: its file sets are `<table>-features`, `-model`, `-report`. */
export const TABLES = ['weather', 'flights', 'flights3m'] as const;
export type Table = (typeof TABLES)[number];

/** A matrix in features.json: inline, or the name of its binary file. */
type StoredMatrix =
  { rows: number; cols: number; data: number[] } | { rows: number; cols: number; file: string };

/** A target or label column in features.json: inline, or the name of its binary file. */
type StoredColumn = number[] | { length: number; file: string };
const COLUMNS = ['trainY', 'testY', 'trainLabel', 'testLabel'] as const;

/**
 * Writes a design with its matrices, targets and labels in binary files (32-bit floats) beside
 * features.json, and `extra` fields. (Delays and labels are whole numbers or 32-bit floats already:
 * nothing is lost. As JSON, flights3m's took 15 MB to write and parse in every model step.)
 */
export function writeBinaryDesign(
  folder: string,
  design: Design,
  extra: Record<string, unknown>,
): void {
  const store = (m: Matrix, file: string): { rows: number; cols: number; file: string } => {
    // A matrix built as 32-bit floats is written as it is (flights3m's: 500 MB, not copied).
    const floats = m.data instanceof Float32Array ? m.data : Float32Array.from(m.data);
    writeFileSync(
      path.join(folder, file),
      new Uint8Array(floats.buffer, floats.byteOffset, floats.byteLength),
    );
    return { rows: m.rows, cols: m.cols, file };
  };
  const columns = Object.fromEntries(
    COLUMNS.map((name): [string, StoredColumn] => {
      const { rows, file } = store(
        { rows: design[name].length, cols: 1, data: design[name] },
        `${name}.f32`,
      );
      return [name, { length: rows, file }];
    }),
  );
  writeJson(folder, FEATURES_FILE, {
    ...design,
    train: store(design.train, 'train.f32'),
    test: store(design.test, 'test.f32'),
    ...columns,
    ...extra,
  });
}

/** Reads features.json and the binary files it names, checking their sizes. */
export function readDesign(folder: string): Design {
  const stored = readJson(folder, FEATURES_FILE) as Omit<
    Design,
    'train' | 'test' | (typeof COLUMNS)[number]
  > & { train: StoredMatrix; test: StoredMatrix } & Record<(typeof COLUMNS)[number], StoredColumn>;
  const load = (m: StoredMatrix): Matrix =>
    'file' in m
      ? {
          rows: m.rows,
          cols: m.cols,
          data: readBinary(
            path.join(folder, m.file),
            'float32',
            m.rows * m.cols,
            'the features step',
          ),
        }
      : m;
  const column = (c: StoredColumn): number[] =>
    Array.isArray(c)
      ? c
      : Array.from(readBinary(path.join(folder, c.file), 'float32', c.length, 'the features step'));
  return {
    ...stored,
    train: load(stored.train),
    test: load(stored.test),
    trainY: column(stored.trainY),
    testY: column(stored.testY),
    trainLabel: column(stored.trainLabel),
    testLabel: column(stored.testLabel),
  };
}
