// Step 4: `<TABLE>-features` → `<TABLE>-model` (model.json: weights and the validated score).
//
//   TABLE          weather (temp_max, or warm days for classifiers), flights or flights3m (arrival
//                  delay, or late flights for classifiers) (default weather)
//   MODEL          ols, ridge, gd (linear regression by gradient descent), knn, or logistic (warm
//                  days) (default ridge)
//   LAMBDA         ridge and logistic: L2 penalty (default 1 for ridge, 0.001 for logistic)
//   EPOCHS         gd and logistic: full passes over the rows (default 400; flights 50; flights3m 2)
//   BATCH          gd and logistic: rows per step, 0 for full batches (default 0; flights3m 1024:
//                  stochastic gradient descent, as on any table of millions of rows)
//   LEARNING_RATE  gd and logistic (default 0.05 for gd, 0.5 for logistic)
//   K              knn: neighbours (default 10)
//   FOLDS, REPEATS repeated k-fold cross-validation on the train rows before the final fit
//                  (default 5 folds; repeats: 250 for ols and ridge, 4 for gd and logistic, 12
//                  for knn: about 1-4 s each on one core of a 2-vCPU machine, with 7 to 34 features;
//                  flights: 1, as 160,000 train rows give steady scores)
//   VALIDATION     cv (repeated k-fold cross-validation, then the final fit on every train row) or
//                  holdout (one fit on the train rows but a held-out HOLDOUT share, scored on
//                  those, and kept: a notebook's validation set) (default cv; flights3m holdout, as
//                  480,000 held-out flights give a steady score and each fit takes seconds)
//   HOLDOUT        holdout: the share of the train rows held out (default 0.2)
//   SEED           the folds' or the hold-out's shuffle (default 1)
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
import {
  crossValidate,
  fit,
  holdout,
  isClassifier,
  MODELS,
  type FittedModel,
  type ModelParams,
} from './models.js';

const VALIDATIONS = ['cv', 'holdout'] as const;
const DEFAULT_REPEATS = { ols: 250, ridge: 250, gd: 4, knn: 12, logistic: 4 } as const;

runJob(() => {
  const started = performance.now();
  const table = choiceParam('TABLE', TABLES, 'weather');
  const kind = choiceParam('MODEL', MODELS, 'ridge');
  const params: ModelParams = {
    kind,
    lambda: numberParam('LAMBDA', kind === 'logistic' ? 0.001 : 1, { min: 0 }),
    epochs: intParam('EPOCHS', { weather: 400, flights: 50, flights3m: 2 }[table], { min: 1 }),
    learningRate: numberParam('LEARNING_RATE', kind === 'logistic' ? 0.5 : 0.05, { min: 0 }),
    k: intParam('K', 10, { min: 1 }),
    batch: intParam('BATCH', table === 'flights3m' ? 1024 : 0, { min: 0 }),
    seed: intParam('SEED', 1),
  };
  const folds = intParam('FOLDS', 5, { min: 2, max: 20 });
  const repeats = intParam('REPEATS', table === 'weather' ? DEFAULT_REPEATS[kind] : 1, { min: 1 });
  const seed = params.seed ?? 1;
  const design = readDesign(inputDir(`${table}-features`));
  const y = isClassifier(kind) ? design.trainLabel : design.trainY;

  const method = choiceParam('VALIDATION', VALIDATIONS, table === 'flights3m' ? 'holdout' : 'cv');
  const fraction = numberParam('HOLDOUT', 0.2, { min: 0.01, max: 0.99 });
  let validated: { mean: number; model: FittedModel; how: Record<string, number | string> };
  if (method === 'cv') {
    const cv = crossValidate(params, design.train, y, folds, repeats, seed);
    const all = Array.from({ length: design.train.rows }, (_, i) => i);
    const model = Number.isFinite(cv.mean)
      ? fit(params, design.train, y, all)
      : { kind, weights: [] };
    validated = { mean: cv.mean, model, how: { folds, repeats, seed } };
  } else {
    const h = holdout(params, design.train, y, fraction, seed);
    validated = {
      mean: h.score,
      model: h.model,
      how: { holdout: fraction, seed, trainedRows: h.trainedRows, heldRows: h.heldRows },
    };
  }
  const { mean, model } = validated;
  if (!Number.isFinite(mean))
    throw new JobError(
      `${kind} diverged (validated score ${mean})` +
        (kind === 'gd' || kind === 'logistic' ? ': try a smaller LEARNING_RATE' : ''),
    );
  const prefix = method === 'cv' ? 'cv' : 'val';
  const metric = isClassifier(kind) ? `${prefix}_accuracy` : `${prefix}_rmse`;
  writeJson(outputDir(`${table}-model`), 'model.json', {
    ...model,
    params,
    features: design.names,
    cv: { metric, mean, method, ...validated.how },
  });
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `${kind} on ${design.names.length} features: ${metric} ${mean.toFixed(4)} over ` +
      (method === 'cv'
        ? `${repeats} × ${folds} folds`
        : `a hold-out of ${validated.how['heldRows']} rows`) +
      `, in ${seconds.toFixed(2)} s`,
  );
  printMetric({ [metric]: mean, seconds }, 0);
});
