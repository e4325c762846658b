// The pieces of data-parallel minibatch SGD that do not depend on threads: who takes which
// examples and which parameters, a slice's gradient, and the momentum step. The worker threads run
// exactly these functions; the unit specs run them on one thread.
import { accumulateGradient, argmax, type Mlp, type Workspace } from './mlp.js';

export interface Range {
  readonly start: number;
  readonly end: number;
}

/**
 * Part `index` of `parts` nearly equal runs covering [0, length). With `align`, every boundary but
 * the last is a multiple of it: threads that write neighbouring runs of a Float32Array then never
 * share a cache line (16 floats = 64 bytes), which would make the cores fight over it.
 */
export function partition(length: number, parts: number, index: number, align = 1): Range {
  if (!Number.isInteger(parts) || parts < 1) throw new Error(`parts must be >= 1, got ${parts}`);
  if (!Number.isInteger(index) || index < 0 || index >= parts)
    throw new Error(`part ${index} of ${parts} does not exist`);
  const boundary = (k: number): number =>
    k === parts ? length : Math.min(length, Math.round((k * length) / parts / align) * align);
  return { start: boundary(index), end: boundary(index + 1) };
}

export interface Examples {
  /** examples × features, row-major. */
  readonly x: Float32Array;
  readonly y: Uint8Array;
  readonly features: number;
}

export interface SliceResult {
  /** The summed cross-entropy of the slice's examples. */
  readonly loss: number;
  /** How many of them the network (before this batch's step) classified right. */
  readonly correct: number;
}

/**
 * Adds to `grad` the summed loss gradient of the examples order[from .. to) (the shuffled
 * indices of this thread's part of the batch) and answers their loss and hits.
 */
export function accumulateSlice(
  net: Mlp,
  grad: Mlp,
  data: Examples,
  order: Int32Array,
  range: Range,
  ws: Workspace,
): SliceResult {
  let loss = 0;
  let correct = 0;
  for (let n = range.start; n < range.end; n++) {
    const example = order[n]!;
    const label = data.y[example]!;
    loss += accumulateGradient(net, grad, data.x, example * data.features, label, ws);
    if (argmax(ws.logits) === label) correct++;
  }
  return { loss, correct };
}

export interface StepSettings {
  readonly learningRate: number;
  readonly momentum: number;
  /** Examples in the batch: the summed gradient is divided by it to get the mean. */
  readonly batchSize: number;
}

/** Block of the running gradient sum: small enough to stay in the L1 cache. */
const sumBlock = new Float32Array(1024);

/**
 * For parameters [range.start, range.end): sums the gradients every thread left in `grads` (in
 * thread order, so the result does not depend on timing) and takes one SGD step with (heavy-ball)
 * momentum: v ← μ v + g / B, θ ← θ − η v.
 *
 * It only READS the other threads' gradient buffers; each thread clears its own before its next
 * batch. Writing a cache line another core is about to write makes the line travel between the
 * cores twice per batch, and with two threads that traffic cost more than the sums themselves.
 */
export function reduceAndStep(
  params: Float32Array,
  velocity: Float32Array,
  grads: readonly Float32Array[],
  range: Range,
  settings: StepSettings,
): void {
  const { learningRate, momentum } = settings;
  const scale = 1 / settings.batchSize;
  const first = grads[0];
  if (first === undefined) throw new Error('no gradient buffers');
  if (grads.length === 1) {
    for (let p = range.start; p < range.end; p++) {
      const v = momentum * velocity[p]! + first[p]! * scale;
      velocity[p] = v;
      params[p]! -= learningRate * v;
    }
    return;
  }
  for (let block = range.start; block < range.end; block += sumBlock.length) {
    const length = Math.min(sumBlock.length, range.end - block);
    for (let i = 0; i < length; i++) sumBlock[i] = first[block + i]!;
    for (let t = 1; t < grads.length; t++) {
      const other = grads[t]!;
      for (let i = 0; i < length; i++) sumBlock[i]! += other[block + i]!;
    }
    for (let i = 0; i < length; i++) {
      const p = block + i;
      const v = momentum * velocity[p]! + sumBlock[i]! * scale;
      velocity[p] = v;
      params[p]! -= learningRate * v;
    }
  }
}

/**
 * Linear decay from the given rate at epoch 1 to a tenth of it at the last epoch: big steps while
 * the weights are far off, small ones to settle at the end, which buys about half a point of
 * accuracy over a constant rate in a few epochs. A function of the epoch alone, so a resumed run
 * uses the same rates.
 */
export function learningRateAt(
  epoch: number,
  settings: { readonly learningRate: number; readonly epochs: number },
): number {
  const progress = settings.epochs === 1 ? 0 : (epoch - 1) / (settings.epochs - 1);
  return settings.learningRate * (1 - 0.9 * progress);
}
