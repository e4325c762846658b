// Step 5: `<TABLE>-features` and `<TABLE>-model` → `<TABLE>-report` (report.json: the model's
// score on the held-out test rows: RMSE, MAE and R² of temp_max or of the arrival delay, or
// accuracy on warm days or late flights).
//
//   TABLE  weather or flights (default weather)
import {
  choiceParam,
  inputDir,
  outputDir,
  printMetric,
  readJson,
  runJob,
  writeJson,
} from './acai.js';
import { readDesign, TABLES } from './design-file.js';
import { isClassifier, predict, score, type FittedModel, type ModelParams } from './models.js';

runJob(() => {
  const table = choiceParam('TABLE', TABLES, 'weather');
  const design = readDesign(inputDir(`${table}-features`));
  const saved = readJson(inputDir(`${table}-model`), 'model.json') as FittedModel & {
    params: ModelParams;
  };
  const classifier = isClassifier(saved.kind);
  const trainY = classifier ? design.trainLabel : design.trainY;
  const testY = classifier ? design.testLabel : design.testY;
  const train = {
    m: design.train,
    y: trainY,
    rows: Array.from({ length: design.train.rows }, (_, i) => i),
  };
  const predicted = Array.from({ length: design.test.rows }, (_, r) =>
    predict(saved.params, saved, design.test, r, train),
  );
  let metrics: Record<string, number>;
  if (classifier) {
    metrics = { accuracy: score(saved.kind, predicted, testY) };
  } else {
    const mean = testY.reduce((a, v) => a + v, 0) / testY.length;
    const sst = testY.reduce((a, v) => a + (v - mean) ** 2, 0);
    const rmse = score(saved.kind, predicted, testY);
    metrics = {
      rmse,
      mae: predicted.reduce((a, p, i) => a + Math.abs(p - (testY[i] ?? 0)), 0) / testY.length,
      r2: 1 - (rmse * rmse * testY.length) / sst,
    };
  }
  writeJson(outputDir(`${table}-report`), 'report.json', {
    model: saved.kind,
    params: saved.params,
    testRows: design.test.rows,
    ...metrics,
  });
  console.log(
    `${saved.kind} on ${design.test.rows} test rows: ` +
      Object.entries(metrics)
        .map(([k, v]) => `${k} ${v.toFixed(4)}`)
        .join(', '),
  );
  printMetric(metrics, 0);
});
