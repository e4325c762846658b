// Columns of a large table as files: `<name>.json` says how many rows and which columns, and each
// column sits beside it as a little-endian binary file of its type (`day.int32`, `delay.float32`).
// Three million flights take 60 MB this way and read in a blink; as JSON they took 100 MB and
// seconds to parse (docs/benchmarks.md, "flights-3m weighed").
import { closeSync, fstatSync, openSync, readSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { JobError, readJson, writeJson } from './acai.js';

export type TypedColumn = Int32Array | Int16Array | Uint16Array | Float32Array;
const TYPES = {
  int32: Int32Array,
  int16: Int16Array,
  uint16: Uint16Array,
  float32: Float32Array,
} as const;
type ColumnType = keyof typeof TYPES;

function typeOf(column: TypedColumn): ColumnType {
  if (column instanceof Int32Array) return 'int32';
  if (column instanceof Int16Array) return 'int16';
  if (column instanceof Uint16Array) return 'uint16';
  return 'float32';
}

interface StoredColumns {
  rows: number;
  columns: Record<string, { type: ColumnType; file: string }>;
}

/** Writes `columns` (all of one length) and `extra` fields into `folder` as `<name>.json` + files. */
export function writeColumns(
  folder: string,
  name: string,
  columns: Record<string, TypedColumn>,
  extra: Record<string, unknown> = {},
): void {
  const lengths = new Set(Object.values(columns).map((c) => c.length));
  if (lengths.size > 1) throw new Error(`columns of different lengths: ${[...lengths].join(', ')}`);
  const stored: StoredColumns = { rows: [...lengths][0] ?? 0, columns: {} };
  for (const [column, values] of Object.entries(columns)) {
    const type = typeOf(values);
    const file = `${name}.${column}.${type}`;
    writeFileSync(
      path.join(folder, file),
      new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
    );
    stored.columns[column] = { type, file };
  }
  writeJson(folder, `${name}.json`, { ...extra, ...stored });
}

/** Reads the binary file `full` into a new array of `type` and `rows` values, checking its size. */
export function readBinary<T extends ColumnType>(
  full: string,
  type: T,
  rows: number,
  writer = 'the step that wrote it',
): InstanceType<(typeof TYPES)[T]> {
  const out = new TYPES[type](rows) as InstanceType<(typeof TYPES)[T]>;
  const bytes = new Uint8Array(out.buffer);
  let fd: number;
  try {
    fd = openSync(full, 'r');
  } catch (error) {
    throw new JobError(
      `cannot read ${full}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  try {
    const size = fstatSync(fd).size;
    if (size !== bytes.byteLength)
      throw new JobError(
        `${full} has ${size} bytes, expected ${rows} ${type} values (${bytes.byteLength}): ` +
          `run ${writer} again`,
      );
    // Straight into the array's own memory: no second copy of a file of hundreds of MB.
    let at = 0;
    while (at < bytes.byteLength) {
      const read = readSync(fd, bytes, at, bytes.byteLength - at, null);
      if (read === 0) throw new JobError(`${full} ended early at byte ${at}`);
      at += read;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/** Reads what `writeColumns` wrote: the columns by name and the JSON's other fields. */
export function readColumns(
  folder: string,
  name: string,
): { rows: number; columns: Record<string, TypedColumn>; extra: Record<string, unknown> } {
  const { rows, columns, ...extra } = readJson(folder, `${name}.json`) as StoredColumns &
    Record<string, unknown>;
  if (!Number.isInteger(rows) || typeof columns !== 'object' || columns === null)
    throw new JobError(`${path.join(folder, `${name}.json`)} does not describe columns`);
  const out: Record<string, TypedColumn> = {};
  for (const [column, { type, file }] of Object.entries(columns)) {
    if (!(type in TYPES))
      throw new JobError(`${path.join(folder, `${name}.json`)}: column ${column} has type ${type}`);
    out[column] = readBinary(path.join(folder, path.basename(file)), type, rows);
  }
  return { rows, columns: out, extra };
}
