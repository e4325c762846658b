// Step 4: `<TABLE>-features` → `<TABLE>-model` (model.json: weights and the cross-validated score).
//
//   TABLE          weather (temp_max, or warm days for classifiers) or flights (arrival delay, or
//                  late flights for classifiers) (default weather)
//   MODEL          ols, ridge, gd (linear regression by gradient descent), knn, or logistic (warm
//                  days) (default ridge)
//   LAMBDA         ridge and logistic: L2 penalty (default 1 for ridge, 0.001 for logistic)
//   EPOCHS         gd and logistic: full passes over the rows (default 400; flights 50)
//   LEARNING_RATE  gd and logistic (default 0.05 for gd, 0.5 for logistic)
//   K              knn: neighbours (default 10)
//   FOLDS, REPEATS repeated k-fold cross-validation on the train rows before the final fit
//                  (default 5 folds; repeats: 250 for ols and ridge, 4 for gd and logistic, 12
//                  for knn: about 1-4 s each on one core of a 2-vCPU machine, with 7 to 34 features;
//                  flights: 1, as 160,000 train rows give steady scores)
//   SEED           the folds' shuffles (default 1)
import { performance } from 'node:perf_hooks';
import {
  choiceParam,
  inputDir,
  intParam,
  JobError,
  numberParam,
  outputDir,
  printMetric,
  runJob,
  writeJson,
} from './acai.js';
import { readDesign, TABLES } from './design-file.js';
import { crossValidate, fit, isClassifier, MODELS, type ModelParams } from './models.js';

const DEFAULT_REPEATS = { ols: 250, ridge: 250, gd: 4, knn: 12, logistic: 4 } as const;

runJob(() => {
  const started = performance.now();
  const table = choiceParam('TABLE', TABLES, 'weather');
  const kind = choiceParam('MODEL', MODELS, 'ridge');
  const params: ModelParams = {
    kind,
    lambda: numberParam('LAMBDA', kind === 'logistic' ? 0.001 : 1, { min: 0 }),
    epochs: intParam('EPOCHS', table === 'flights' ? 50 : 400, { min: 1 }),
    learningRate: numberParam('LEARNING_RATE', kind === 'logistic' ? 0.5 : 0.05, { min: 0 }),
    k: intParam('K', 10, { min: 1 }),
  };
  const folds = intParam('FOLDS', 5, { min: 2, max: 20 });
  const repeats = intParam('REPEATS', table === 'flights' ? 1 : DEFAULT_REPEATS[kind], { min: 1 });
  const seed = intParam('SEED', 1);
  const design = readDesign(inputDir(`${table}-features`));
  const y = isClassifier(kind) ? design.trainLabel : design.trainY;

  const cv = crossValidate(params, design.train, y, folds, repeats, seed);
  if (!Number.isFinite(cv.mean))
    throw new JobError(
      `${kind} diverged (cross-validated score ${cv.mean})` +
        (kind === 'gd' || kind === 'logistic' ? ': try a smaller LEARNING_RATE' : ''),
    );
  const all = Array.from({ length: design.train.rows }, (_, i) => i);
  const model = fit(params, design.train, y, all);
  const metric = isClassifier(kind) ? 'cv_accuracy' : 'cv_rmse';
  writeJson(outputDir(`${table}-model`), 'model.json', {
    ...model,
    params,
    features: design.names,
    cv: { metric, mean: cv.mean, folds, repeats, seed },
  });
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `${kind} on ${design.names.length} features: ${metric} ${cv.mean.toFixed(4)} over ` +
      `${repeats} × ${folds} folds, in ${seconds.toFixed(2)} s`,
  );
  printMetric({ [metric]: cv.mean, seconds }, 0);
});
