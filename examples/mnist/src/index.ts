// The reusable parts of the MNIST example: the file formats and the math, without the job
// programs (etl.js, train.js, evaluate.js), which run when loaded.
export * from './acai.js';
export * from './checkpoint.js';
export * from './confusion.js';
export * from './idx.js';
export * from './json.js';
export * from './mlp.js';
export * from './model.js';
export * from './rng.js';
export * from './tensors.js';
export * from './training.js';
