// Step 2 of the MNIST pipeline: file set `mnist-tensors` → file set `mnist-model`, training a
// 784 → HIDDEN (ReLU) → 10 (softmax) perceptron by minibatch SGD with momentum, data-parallel on
// worker threads over shared memory (see pool.ts and train-worker.ts).
//
//   HIDDEN         hidden units                                   default 128
//   LEARNING_RATE  SGD step size at epoch 1 (decays linearly)     default 0.1
//   MOMENTUM       heavy-ball momentum                            default 0.9
//   EPOCHS         passes over the training set                   default 5
//   BATCH          examples per step                              default 64
//   THREADS        worker threads       default round(ACAI_CPUS), or all cores when run by hand
//   SEED           initial weights and shuffles                   default 1
//   TENSORS        the input file set of tensors                  default mnist-tensors
//
// Every epoch it prints a metric line and, under acai, checkpoints; a resumed attempt continues
// after the last checkpoint's epoch and ends with the weights an uninterrupted run would have.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  announceCheckpoint,
  checkpointDir,
  defaultThreads,
  inputDir,
  intParam,
  JobError,
  messageOf,
  numberParam,
  outputDir,
  peakRssMb,
  printMetric,
  runJob,
} from './acai.js';
import { loadCheckpoint, saveCheckpoint, type Checkpoint, type EpochRecord } from './checkpoint.js';
import { percent } from './confusion.js';
import { readableJson } from './json.js';
import { initialise, mlpView, type MlpShape } from './mlp.js';
import { describeModel, MODEL_FILES } from './model.js';
import { allocateMemory, TrainerPool } from './pool.js';
import { Rng } from './rng.js';
import { learningRateAt } from './training.js';
import {
  assertLittleEndian,
  bytesOf,
  readFloat32,
  readLabels,
  readMeta,
  TENSOR_FILES,
  tensorsFileset,
} from './tensors.js';

interface Settings {
  readonly hidden: number;
  readonly learningRate: number;
  readonly momentum: number;
  readonly epochs: number;
  readonly batch: number;
  readonly threads: number;
  readonly seed: number;
}

/** Where training stands: after `epoch` epochs (0 on a fresh start). */
interface Progress {
  readonly epoch: number;
  readonly rng: Rng;
  readonly history: EpochRecord[];
  readonly resumedFrom: number | null;
}

runJob(async () => {
  assertLittleEndian();
  const settings = readSettings();
  const input = inputDir(tensorsFileset());
  const output = outputDir('mnist-model');
  const checkpoints = checkpointDir();

  const meta = readMeta(input);
  const shape: MlpShape = { inputs: meta.features, hidden: settings.hidden, outputs: meta.classes };
  const x = readFloat32(path.join(input, TENSOR_FILES.trainX), meta.train * meta.features, true);
  const y = readLabels(path.join(input, TENSOR_FILES.trainY), meta.train, meta.classes, true);
  const memory = allocateMemory(x, y, shape, settings.threads);
  const net = mlpView(shape, new Float32Array(memory.params));
  const velocity = new Float32Array(memory.velocity);
  const order = new Int32Array(memory.order);
  const stats = new Float64Array(memory.stats);

  const progress = startOrResume(checkpoints, settings, shape, net.flat, velocity);
  if (progress.resumedFrom === null) initialise(net, progress.rng);
  console.log(
    `training a ${shape.inputs}-${shape.hidden}-${shape.outputs} MLP on ${meta.train} examples: ` +
      `${settings.epochs} epochs, batch ${settings.batch}, learning rate ${settings.learningRate}, ` +
      `momentum ${settings.momentum}, ${settings.threads} thread(s), seed ${settings.seed}`,
  );

  const pool = TrainerPool.start(new URL('./train-worker.js', import.meta.url), {
    threads: settings.threads,
    shape,
    examples: meta.train,
    batch: settings.batch,
    momentum: settings.momentum,
    memory,
  });
  const started = performance.now();
  try {
    for (let epoch = progress.epoch + 1; epoch <= settings.epochs; epoch++) {
      const epochStarted = performance.now();
      shuffle(order, progress.rng);
      await pool.runEpoch(learningRateAt(epoch, settings));
      const record = epochRecord(
        epoch,
        stats,
        meta.train,
        (performance.now() - epochStarted) / 1000,
      );
      progress.history.push(record);
      report(record, settings);
      if (checkpoints !== undefined) {
        saveCheckpoint(checkpoints, {
          epoch,
          rngState: progress.rng.state,
          shape,
          settings: { ...settings },
          history: progress.history,
          params: net.flat,
          velocity,
        });
        announceCheckpoint(epoch);
      }
    }
  } finally {
    await pool.close();
  }
  const seconds = (performance.now() - started) / 1000;

  const last = progress.history.at(-1);
  if (last === undefined) throw new JobError('no epoch was trained');
  writeFileSync(path.join(output, MODEL_FILES.weights), bytesOf(net.flat));
  const description = describeModel({
    shape,
    normalisation: meta.normalisation,
    params: { ...settings },
    metrics: {
      loss: last.loss,
      trainAccuracy: last.trainAccuracy,
      epochs: last.epoch,
      trainSeconds: progress.history.reduce((sum, r) => sum + r.seconds, 0),
    },
    history: progress.history,
    resumedFromEpoch: progress.resumedFrom,
  });
  writeFileSync(path.join(output, MODEL_FILES.description), readableJson(description));
  console.log(
    `trained in ${seconds.toFixed(1)} s (this attempt): loss ${last.loss.toFixed(4)}, ` +
      `train accuracy ${percent(last.trainAccuracy)}; model written to ${output}`,
  );
  console.log(`peak RSS: ${peakRssMb()} MB`);
});

function readSettings(): Settings {
  return {
    hidden: intParam('HIDDEN', 128, { min: 1, max: 4096 }),
    learningRate: numberParam('LEARNING_RATE', 0.1, { min: 1e-6, max: 10 }),
    momentum: numberParam('MOMENTUM', 0.9, { min: 0, max: 0.999 }),
    epochs: intParam('EPOCHS', 5, { min: 1, max: 1000 }),
    batch: intParam('BATCH', 64, { min: 1, max: 1_000_000 }),
    threads: intParam('THREADS', defaultThreads(), { min: 1, max: 256 }),
    seed: intParam('SEED', 1, { min: 0, max: 2 ** 32 - 1 }),
  };
}

/** Picks up the checkpoint if there is one (copying its weights in), else starts from the seed. */
function startOrResume(
  dir: string | undefined,
  settings: Settings,
  shape: MlpShape,
  params: Float32Array,
  velocity: Float32Array,
): Progress {
  let checkpoint: Checkpoint | undefined;
  try {
    checkpoint = dir === undefined ? undefined : loadCheckpoint(dir);
  } catch (error) {
    throw new JobError(
      `cannot resume: ${messageOf(error)}; ` + 'clear the checkpoint folder to start over',
    );
  }
  if (checkpoint === undefined) {
    return { epoch: 0, rng: new Rng(settings.seed), history: [], resumedFrom: null };
  }
  const was = checkpoint.shape;
  if (was.inputs !== shape.inputs || was.hidden !== shape.hidden || was.outputs !== shape.outputs) {
    throw new JobError(
      `the checkpoint is of a ${was.inputs}-${was.hidden}-${was.outputs} network, ` +
        `this run trains ${shape.inputs}-${shape.hidden}-${shape.outputs}: clear the checkpoint folder to start over`,
    );
  }
  for (const [name, value] of Object.entries(settings)) {
    const before = checkpoint.settings[name];
    if (before !== value)
      console.log(`note: ${name} was ${before} before the restart, now ${value}`);
  }
  params.set(checkpoint.params);
  velocity.set(checkpoint.velocity);
  console.log(`resuming from checkpoint of epoch ${checkpoint.epoch}`);
  return {
    epoch: checkpoint.epoch,
    rng: Rng.restore(checkpoint.rngState),
    history: [...checkpoint.history],
    resumedFrom: checkpoint.epoch,
  };
}

/**
 * The epoch's example order: a fresh shuffle of 0..n-1. It starts from the identity rather than
 * the previous order so that it depends only on the generator's state, which the checkpoint saves.
 */
function shuffle(order: Int32Array, rng: Rng): void {
  for (let i = 0; i < order.length; i++) order[i] = i;
  rng.shuffle(order);
}

function epochRecord(
  epoch: number,
  stats: Float64Array,
  examples: number,
  seconds: number,
): EpochRecord {
  let loss = 0;
  let correct = 0;
  for (let t = 0; t < stats.length; t += 2) {
    loss += stats[t]!;
    correct += stats[t + 1]!;
  }
  if (!Number.isFinite(loss)) {
    throw new JobError(
      `training diverged at epoch ${epoch} (the loss is ${loss}): lower LEARNING_RATE`,
    );
  }
  return { epoch, loss: loss / examples, trainAccuracy: correct / examples, seconds };
}

function report(record: EpochRecord, settings: Settings): void {
  printMetric(
    {
      loss: record.loss,
      train_accuracy: record.trainAccuracy,
      epoch: record.epoch,
      seconds: record.seconds,
      // The declared total: acai predicts when training ends from it (the job's `progress`).
      steps_total: settings.epochs,
    },
    record.epoch,
  );
  console.log(
    `epoch ${record.epoch}/${settings.epochs}: loss ${record.loss.toFixed(4)}, ` +
      `train accuracy ${percent(record.trainAccuracy)}, ${record.seconds.toFixed(2)} s`,
  );
}
