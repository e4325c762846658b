// A training checkpoint: everything needed to continue exactly where an epoch ended (weights,
// momentum, the random generator's state, the epochs so far). It is ONE file, written atomically,
// so a crash can never leave the weights of one epoch beside the state of another.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from './acai.js';
import { parameterCount, type MlpShape } from './mlp.js';
import { bytesOf } from './tensors.js';

export const CHECKPOINT_FILE = 'checkpoint.bin';
const MAGIC = 'ACAIMLP1';
const FORMAT = 'acai-mnist-checkpoint';

export interface EpochRecord {
  readonly epoch: number;
  readonly loss: number;
  readonly trainAccuracy: number;
  readonly seconds: number;
}

export interface Checkpoint {
  /** The last finished epoch (1-based). */
  readonly epoch: number;
  readonly rngState: number;
  readonly shape: MlpShape;
  /** The settings of the run that wrote it, to warn when a resumed run differs. */
  readonly settings: Readonly<Record<string, number>>;
  readonly history: readonly EpochRecord[];
  readonly params: Float32Array;
  readonly velocity: Float32Array;
}

type Header = Omit<Checkpoint, 'params' | 'velocity'> & { format: string; floats: number };

/**
 * Layout: "ACAIMLP1", u32 LE length of a JSON header, the header, zero padding to a multiple of
 * 4 bytes, then params and velocity as little-endian float32.
 */
export function encodeCheckpoint(checkpoint: Checkpoint): Uint8Array[] {
  const floats = parameterCount(checkpoint.shape);
  if (checkpoint.params.length !== floats || checkpoint.velocity.length !== floats)
    throw new Error(`a checkpoint of this shape holds ${floats} parameters and as many velocities`);
  const { params: _params, velocity: _velocity, ...rest } = checkpoint;
  const header: Header = { format: FORMAT, floats, ...rest };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(align4(MAGIC.length + 4 + json.length));
  prefix.write(MAGIC, 0, 'latin1');
  prefix.writeUInt32LE(json.length, MAGIC.length);
  json.copy(prefix, MAGIC.length + 4);
  return [prefix, bytesOf(checkpoint.params), bytesOf(checkpoint.velocity)];
}

/** Reads a checkpoint, refusing anything truncated, padded or of another format. */
export function decodeCheckpoint(bytes: Uint8Array, name = CHECKPOINT_FILE): Checkpoint {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.length < MAGIC.length + 4 || buffer.toString('latin1', 0, MAGIC.length) !== MAGIC)
    throw new Error(`${name} is not a checkpoint of this program`);
  const jsonLength = buffer.readUInt32LE(MAGIC.length);
  const start = MAGIC.length + 4;
  if (start + jsonLength > buffer.length) throw new Error(`${name} is truncated (header)`);
  let header: Header;
  try {
    header = JSON.parse(buffer.toString('utf8', start, start + jsonLength)) as Header;
  } catch {
    throw new Error(`${name} has a damaged header`);
  }
  if (
    header.format !== FORMAT ||
    !isShape(header.shape) ||
    header.floats !== parameterCount(header.shape)
  )
    throw new Error(`${name} has an unexpected header`);
  const dataStart = align4(start + jsonLength);
  const expected = dataStart + header.floats * 8;
  if (buffer.length !== expected)
    throw new Error(`${name} is ${buffer.length} bytes, expected ${expected}: it is damaged`);
  const { format: _format, floats, ...rest } = header;
  return {
    ...rest,
    params: copyFloats(buffer, dataStart, floats),
    velocity: copyFloats(buffer, dataStart + floats * 4, floats),
  };
}

/** Writes the checkpoint into `dir`; the caller then announces it (`##acai checkpoint`). */
export function saveCheckpoint(dir: string, checkpoint: Checkpoint): void {
  writeFileAtomic(path.join(dir, CHECKPOINT_FILE), encodeCheckpoint(checkpoint));
}

/** The checkpoint in `dir`, or undefined when there is none (a fresh start). */
export function loadCheckpoint(dir: string): Checkpoint | undefined {
  const file = path.join(dir, CHECKPOINT_FILE);
  if (!existsSync(file)) return undefined;
  return decodeCheckpoint(readFileSync(file), file);
}

function align4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

function isShape(value: unknown): value is MlpShape {
  const shape = value as Partial<Record<keyof MlpShape, unknown>> | null;
  return (['inputs', 'hidden', 'outputs'] as const).every((key) => {
    const n = shape?.[key];
    return typeof n === 'number' && Number.isInteger(n) && n >= 1;
  });
}

/** A copy, since the data need not sit at a 4-byte-aligned address of the file's buffer. */
function copyFloats(buffer: Buffer, offset: number, count: number): Float32Array {
  const out = new Float32Array(count);
  new Uint8Array(out.buffer).set(buffer.subarray(offset, offset + count * 4));
  return out;
}
