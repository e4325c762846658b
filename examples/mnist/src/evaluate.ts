// Step 3 of the MNIST pipeline: file sets `mnist-tensors` and `mnist-model` → file set
// `mnist-report`, scoring the model on the 10,000 test images it never saw in training.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { inputDir, JobError, outputDir, peakRssMb, printMetric, runJob } from './acai.js';
import {
  accuracy,
  classScores,
  confusionMatrix,
  formatConfusion,
  percent,
  type Confusion,
} from './confusion.js';
import { createWorkspace, predict, type Mlp } from './mlp.js';
import { readableJson } from './json.js';
import { readModel } from './model.js';
import {
  assertLittleEndian,
  readFloat32,
  readLabels,
  readMeta,
  TENSOR_FILES,
  tensorsFileset,
  type Normalisation,
} from './tensors.js';

runJob(async () => {
  assertLittleEndian();
  const tensors = inputDir(tensorsFileset());
  const modelDir = inputDir('mnist-model');
  const output = outputDir('mnist-report');

  const meta = readMeta(tensors);
  const { description, net } = readModel(modelDir);
  if (net.shape.inputs !== meta.features || net.shape.outputs !== meta.classes) {
    throw new JobError(
      `the model takes ${net.shape.inputs} features into ${net.shape.outputs} classes, ` +
        `the tensors have ${meta.features} features and ${meta.classes} classes`,
    );
  }
  checkSameNormalisation(description.normalisation, meta.normalisation);
  const x = readFloat32(path.join(tensors, TENSOR_FILES.testX), meta.test * meta.features, false);
  const y = readLabels(path.join(tensors, TENSOR_FILES.testY), meta.test, meta.classes, false);

  const started = performance.now();
  const confusion = confusionMatrix(y, predictAll(net, x, meta.test), meta.classes);
  const seconds = (performance.now() - started) / 1000;
  const report = reportOf(confusion, meta.test);
  writeFileSync(path.join(output, 'report.json'), readableJson(report));

  printMetric({ accuracy: report.accuracy }, 0);
  console.log(`confusion matrix of ${meta.test} test images (rows: true class):`);
  console.log(formatConfusion(confusion));
  console.log(`scored in ${seconds.toFixed(2)} s; peak RSS: ${peakRssMb()} MB`);
  console.log(`test accuracy: ${percent(report.accuracy)}`);
});

function predictAll(net: Mlp, x: Float32Array, count: number): Uint8Array {
  const workspace = createWorkspace(net.shape);
  const predictions = new Uint8Array(count);
  for (let n = 0; n < count; n++) {
    predictions[n] = predict(net, x, n * net.shape.inputs, workspace);
  }
  return predictions;
}

function reportOf(confusion: Confusion, examples: number) {
  return {
    accuracy: accuracy(confusion),
    confusion,
    perClass: classScores(confusion).map(({ class: c, precision, recall, support }) => ({
      class: c,
      precision,
      recall,
      support,
    })),
    examples,
  };
}

/** A model trained on scaled pixels gives nonsense on standardised ones, and vice versa. */
function checkSameNormalisation(model: Normalisation, tensors: Normalisation): void {
  if (model.offset !== tensors.offset || model.scale !== tensors.scale) {
    throw new JobError(
      `the model was trained on features normalised as ${model.method} ` +
        `(offset ${model.offset}, scale ${model.scale}), the test tensors as ${tensors.method} ` +
        `(offset ${tensors.offset}, scale ${tensors.scale}): rerun etl and train together`,
    );
  }
}
