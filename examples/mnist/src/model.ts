// The `mnist-model` file set: model.bin (the parameters, little-endian float32, in the layout of
// `mlpView`) and model.json (what the numbers mean, how the model was trained, how it did).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { JobError, messageOf } from './acai.js';
import { type EpochRecord } from './checkpoint.js';
import { mlpView, parameterCount, type Mlp, type MlpShape } from './mlp.js';
import { readFloat32, type Normalisation } from './tensors.js';

export const MODEL_FILES = { weights: 'model.bin', description: 'model.json' } as const;
const FORMAT = 'acai-mnist-mlp';

export interface ModelDescription {
  readonly format: typeof FORMAT;
  readonly version: 1;
  readonly architecture: MlpShape & {
    readonly activation: 'relu';
    readonly output: 'softmax';
    readonly loss: 'cross-entropy';
  };
  /** The arrays of model.bin, in order: name, shape (row-major), first float, float count. */
  readonly layout: readonly {
    name: string;
    shape: number[];
    offset: number;
    length: number;
  }[];
  readonly dtype: 'float32-le';
  /** What the features must look like: the tensors' normalisation. */
  readonly normalisation: Normalisation;
  readonly params: Readonly<Record<string, number>>;
  readonly metrics: {
    readonly loss: number;
    readonly trainAccuracy: number;
    readonly epochs: number;
    readonly trainSeconds: number;
  };
  readonly history: readonly EpochRecord[];
  /** The epoch whose checkpoint this run resumed from, if it did. */
  readonly resumedFromEpoch: number | null;
}

export function layoutOf(shape: MlpShape): ModelDescription['layout'] {
  const { inputs, hidden, outputs } = shape;
  const arrays: [string, number[]][] = [
    ['w1', [inputs, hidden]],
    ['b1', [hidden]],
    ['w2', [hidden, outputs]],
    ['b2', [outputs]],
  ];
  let offset = 0;
  return arrays.map(([name, dims]) => {
    const length = dims.reduce((a, b) => a * b, 1);
    const entry = { name, shape: dims, offset, length };
    offset += length;
    return entry;
  });
}

export function describeModel(
  fields: Omit<ModelDescription, 'format' | 'version' | 'architecture' | 'layout' | 'dtype'> & {
    shape: MlpShape;
  },
): ModelDescription {
  const { shape, ...rest } = fields;
  return {
    format: FORMAT,
    version: 1,
    architecture: { ...shape, activation: 'relu', output: 'softmax', loss: 'cross-entropy' },
    layout: layoutOf(shape),
    dtype: 'float32-le',
    ...rest,
  };
}

/** Reads a model file set, checking that model.bin has exactly the floats model.json describes. */
export function readModel(dir: string): { description: ModelDescription; net: Mlp } {
  const file = path.join(dir, MODEL_FILES.description);
  let description: ModelDescription;
  try {
    description = JSON.parse(readFileSync(file, 'utf8')) as ModelDescription;
  } catch (error) {
    throw new JobError(`cannot read ${file}: ${messageOf(error)}`);
  }
  if (description.format !== FORMAT || description.version !== 1)
    throw new JobError(`${file} is not a model of this example (format ${description.format})`);
  const { inputs, hidden, outputs } = description.architecture;
  const shape = { inputs, hidden, outputs };
  const weights = readFloat32(path.join(dir, MODEL_FILES.weights), parameterCount(shape), false);
  return { description, net: mlpView(shape, weights) };
}
