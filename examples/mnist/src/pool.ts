// The training threads, seen from the main thread. All the big arrays live in SharedArrayBuffers
// that every thread maps: the examples, the parameters and momentum, one gradient buffer per
// thread. The main thread only says "run an epoch" and waits; within an epoch the workers
// synchronise among themselves with a barrier (see train-worker.ts), so no message is sent per
// batch.
import { Worker } from 'node:worker_threads';
import { BARRIER_CELLS } from './barrier.js';
import { parameterCount, type MlpShape } from './mlp.js';

export interface SharedMemory {
  /** examples × inputs float32 features. */
  readonly x: SharedArrayBuffer;
  /** examples uint8 labels. */
  readonly y: SharedArrayBuffer;
  readonly params: SharedArrayBuffer;
  readonly velocity: SharedArrayBuffer;
  /** threads gradient buffers of `gradientStride` floats each. */
  readonly grads: SharedArrayBuffer;
  readonly gradientStride: number;
  /** The epoch's shuffled example indices (int32), written by the main thread. */
  readonly order: SharedArrayBuffer;
  /** The barrier's cells (int32). */
  readonly control: SharedArrayBuffer;
  /** Per thread: summed loss and hit count of its examples this epoch (float64 pairs). */
  readonly stats: SharedArrayBuffer;
}

export interface WorkerSetup {
  readonly index: number;
  readonly threads: number;
  readonly shape: MlpShape;
  readonly examples: number;
  readonly batch: number;
  readonly momentum: number;
  readonly memory: SharedMemory;
}

export interface EpochCommand {
  readonly type: 'epoch';
  readonly learningRate: number;
}

export interface EpochDone {
  readonly type: 'done';
}

/**
 * Allocates the shared memory of a training run; x and y are the already-shared examples. Each
 * gradient buffer is padded to a multiple of 16 floats (64 bytes) so that two threads never write
 * the same cache line.
 */
export function allocateMemory(
  x: Float32Array,
  y: Uint8Array,
  shape: MlpShape,
  threads: number,
): SharedMemory {
  if (!(x.buffer instanceof SharedArrayBuffer) || !(y.buffer instanceof SharedArrayBuffer))
    throw new Error('the examples must be in shared memory');
  const count = parameterCount(shape);
  const gradientStride = Math.ceil(count / 16) * 16;
  return {
    x: x.buffer,
    y: y.buffer,
    params: new SharedArrayBuffer(count * 4),
    velocity: new SharedArrayBuffer(count * 4),
    grads: new SharedArrayBuffer(threads * gradientStride * 4),
    gradientStride,
    order: new SharedArrayBuffer(y.length * 4),
    control: new SharedArrayBuffer(BARRIER_CELLS * 4),
    stats: new SharedArrayBuffer(threads * 2 * 8),
  };
}

interface Pending {
  resolve(): void;
  reject(error: Error): void;
}

export class TrainerPool {
  private readonly pending: (Pending | undefined)[];
  private failure: Error | undefined;
  private closing = false;

  private constructor(private readonly workers: Worker[]) {
    this.pending = workers.map(() => undefined);
    workers.forEach((worker, i) => {
      worker.on('message', (_message: EpochDone) => this.settle(i));
      worker.on('error', (error: Error) => this.fail(error));
      worker.on('exit', (code) => {
        if (!this.closing) this.fail(new Error(`training thread ${i} exited (code ${code})`));
      });
    });
  }

  /** Starts one worker thread per `setup.threads`, running `script` (train-worker.js). */
  static start(script: URL, setup: Omit<WorkerSetup, 'index'>): TrainerPool {
    const workers = Array.from(
      { length: setup.threads },
      (_, index) => new Worker(script, { workerData: { ...setup, index } satisfies WorkerSetup }),
    );
    return new TrainerPool(workers);
  }

  /** Runs one epoch over the order the main thread wrote into shared memory. */
  async runEpoch(learningRate: number): Promise<void> {
    const command: EpochCommand = { type: 'epoch', learningRate };
    await Promise.all(
      this.workers.map(
        (worker, i) =>
          new Promise<void>((resolve, reject) => {
            if (this.failure !== undefined) return reject(this.failure);
            this.pending[i] = { resolve, reject };
            worker.postMessage(command);
          }),
      ),
    );
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }

  private settle(i: number): void {
    const pending = this.pending[i];
    this.pending[i] = undefined;
    pending?.resolve();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.pending.forEach((pending) => pending?.reject(error));
    this.pending.fill(undefined);
  }
}
