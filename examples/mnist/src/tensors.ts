// The `mnist-tensors` file set that etl writes and train and evaluate read: raw little-endian
// arrays (no parsing, a file is read straight into the memory the threads share) and a meta.json
// that says how many rows they hold and how the pixels were transformed.
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JobError, messageOf } from './acai.js';

export const TENSOR_FILES = {
  trainX: 'train-x.f32',
  trainY: 'train-y.u8',
  testX: 'test-x.f32',
  testY: 'test-y.u8',
  meta: 'meta.json',
} as const;

/**
 * How a raw pixel p (0-255) became a feature: (p / 255 − offset) / scale. `scale` mode keeps
 * offset 0 and scale 1, so background pixels stay exactly 0 (which training exploits);
 * `standardise` mode uses the train features' mean and standard deviation.
 */
export interface Normalisation {
  readonly method: 'scale' | 'standardise';
  readonly offset: number;
  readonly scale: number;
  /** Mean and standard deviation of the train pixels / 255, whatever the method. */
  readonly trainMean: number;
  readonly trainStd: number;
}

export interface TensorMeta {
  readonly train: number;
  readonly test: number;
  readonly features: number;
  readonly classes: number;
  readonly image: { readonly rows: number; readonly cols: number };
  readonly normalisation: Normalisation;
}

/** The arrays are written in the machine's byte order, and the format says little-endian. */
export function assertLittleEndian(): void {
  if (os.endianness() !== 'LE') {
    throw new JobError('this example reads and writes little-endian floats: run it on x86 or ARM');
  }
}

export function readMeta(dir: string): TensorMeta {
  const file = path.join(dir, TENSOR_FILES.meta);
  if (!existsSync(file))
    throw new JobError(
      `${dir} has no ${TENSOR_FILES.meta}: is it the mnist-tensors file set of etl?`,
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new JobError(`cannot read ${file}: ${messageOf(error)}`);
  }
  return checkMeta(parsed, file);
}

/** Checks what a meta.json holds before anything trusts its counts. */
export function checkMeta(value: unknown, file: string): TensorMeta {
  const meta = value as Partial<Record<keyof TensorMeta, unknown>>;
  const counts = ['train', 'test', 'features', 'classes'] as const;
  for (const key of counts) {
    const n = meta?.[key];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1)
      throw new JobError(`${file}: '${key}' must be a whole number >= 1`);
  }
  const normalisation = meta.normalisation as Partial<Record<keyof Normalisation, unknown>>;
  if (typeof normalisation !== 'object' || normalisation === null)
    throw new JobError(`${file}: 'normalisation' is missing`);
  if (typeof normalisation.offset !== 'number' || typeof normalisation.scale !== 'number')
    throw new JobError(`${file}: 'normalisation' needs a numeric offset and scale`);
  const image = meta.image as { rows?: unknown; cols?: unknown } | undefined;
  if (typeof image?.rows !== 'number' || typeof image.cols !== 'number')
    throw new JobError(`${file}: 'image' needs rows and cols`);
  return value as TensorMeta;
}

/**
 * Reads a file of `length` little-endian floats. With `shared`, the memory is a
 * SharedArrayBuffer, read into directly, so worker threads can use it without a copy.
 */
export function readFloat32(file: string, length: number, shared: boolean): Float32Array {
  const buffer = shared ? new SharedArrayBuffer(length * 4) : new ArrayBuffer(length * 4);
  readInto(file, new Uint8Array(buffer));
  return new Float32Array(buffer);
}

/** Reads a file of `length` labels, each checked to be < classes. */
export function readLabels(
  file: string,
  length: number,
  classes: number,
  shared: boolean,
): Uint8Array {
  const labels = new Uint8Array(shared ? new SharedArrayBuffer(length) : new ArrayBuffer(length));
  readInto(file, labels);
  const bad = labels.findIndex((label) => label >= classes);
  if (bad >= 0) throw new JobError(`${file}: label ${labels[bad]} of row ${bad} is not a class`);
  return labels;
}

function readInto(file: string, target: Uint8Array): void {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    throw new JobError(`cannot open ${file}: ${messageOf(error)}`);
  }
  try {
    const size = fstatSync(fd).size;
    if (size !== target.byteLength) {
      throw new JobError(
        `${file} is ${size} bytes, expected ${target.byteLength}: the file set is inconsistent`,
      );
    }
    let read = 0;
    while (read < size) {
      const n = readSync(fd, target, read, size - read, read);
      if (n === 0) throw new JobError(`${file} ended early at byte ${read}`);
      read += n;
    }
  } finally {
    closeSync(fd);
  }
}

/** The bytes of a typed array, for writing (in this machine's byte order: see assertLittleEndian). */
export function bytesOf(array: Float32Array | Uint8Array): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

/** Mean and standard deviation of pixel / 255 over the train set, from a 256-bin histogram. */
export function pixelStats(pixels: Uint8Array): { mean: number; std: number } {
  const histogram = new Float64Array(256);
  for (let n = 0; n < pixels.length; n++) histogram[pixels[n]!]!++;
  let sum = 0;
  let squares = 0;
  histogram.forEach((count, p) => {
    sum += (count * p) / 255;
    squares += count * (p / 255) ** 2;
  });
  const mean = sum / pixels.length;
  return { mean, std: Math.sqrt(squares / pixels.length - mean * mean) };
}

/**
 * The input file set train and evaluate read the tensors from: `mnist-tensors` (etl's), or another
 * in the same format named by TENSORS (`mnist-pca`, pca's).
 */
export function tensorsFileset(env: NodeJS.ProcessEnv = process.env): string {
  const name = env['TENSORS'];
  return name === undefined || name === '' ? 'mnist-tensors' : name;
}
