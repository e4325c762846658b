// One training thread. For every minibatch of the epoch it
//   1. clears its own gradient buffer and adds the gradient of its share of the batch's examples,
//   2. waits at the barrier until every thread has done so,
//   3. sums all threads' gradients for its share of the PARAMETERS and updates them
//      (the reduction and the update are split between threads too, not left to one),
//   4. waits again, so no thread starts the next batch with half-updated weights.
// The split of examples and parameters depends only on the thread count, and sums are taken in
// thread order, so a run is deterministic given its seed and THREADS.
import { parentPort, workerData } from 'node:worker_threads';
import { Barrier } from './barrier.js';
import { createWorkspace, mlpView, parameterCount } from './mlp.js';
import { type EpochCommand, type EpochDone, type WorkerSetup } from './pool.js';
import { accumulateSlice, partition, reduceAndStep, type Examples } from './training.js';

const setup = workerData as WorkerSetup;
const { index, threads, shape, examples, batch, momentum, memory } = setup;
const count = parameterCount(shape);

const params = new Float32Array(memory.params);
const velocity = new Float32Array(memory.velocity);
const grads = Array.from(
  { length: threads },
  (_, t) => new Float32Array(memory.grads, t * memory.gradientStride * 4, count),
);
const net = mlpView(shape, params);
const grad = mlpView(shape, grads[index]!);
const data: Examples = {
  x: new Float32Array(memory.x),
  y: new Uint8Array(memory.y),
  features: shape.inputs,
};
const order = new Int32Array(memory.order);
const stats = new Float64Array(memory.stats);
const barrier = new Barrier(new Int32Array(memory.control), threads);
const workspace = createWorkspace(shape);
const myParameters = partition(count, threads, index, 16);

function runEpoch(learningRate: number): void {
  let loss = 0;
  let correct = 0;
  for (let start = 0; start < examples; start += batch) {
    const size = Math.min(batch, examples - start);
    const share = partition(size, threads, index);
    const slice = { start: start + share.start, end: start + share.end };
    // Every thread finished reading this buffer before the previous batch's second barrier.
    grad.flat.fill(0);
    const result = accumulateSlice(net, grad, data, order, slice, workspace);
    loss += result.loss;
    correct += result.correct;
    barrier.wait();
    reduceAndStep(params, velocity, grads, myParameters, {
      learningRate,
      momentum,
      batchSize: size,
    });
    barrier.wait();
  }
  stats[index * 2] = loss;
  stats[index * 2 + 1] = correct;
}

const port = parentPort;
if (port === null) throw new Error('train-worker.js runs as a worker thread of train.js');
port.on('message', (command: EpochCommand) => {
  runEpoch(command.learningRate);
  port.postMessage({ type: 'done' } satisfies EpochDone);
});
