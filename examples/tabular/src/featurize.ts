// Step 3: `weather-split` → `weather-features` (features.json: train and test matrices, targets).
//
//   FEATURES  standard (numeric columns standardised, a Seattle indicator), onehot (standard plus
//             month and weather one-hot) or poly (products of the standardised numeric columns up
//             to DEGREE, and their interactions with Seattle) (default standard)
//   DEGREE    for poly (default 2)
//   WARM      a day with temp_max at least this (°C) is labelled warm for classifiers (default 20)
import {
  choiceParam,
  inputDir,
  intParam,
  numberParam,
  outputDir,
  printMetric,
  readJson,
  runJob,
  writeJson,
} from './acai.js';
import { buildDesign, FEATURE_SETS } from './design.js';
import type { CleanRow } from './weather.js';

runJob(() => {
  const set = choiceParam('FEATURES', FEATURE_SETS, 'standard');
  const degree = intParam('DEGREE', 2, { min: 1, max: 4 });
  const warm = numberParam('WARM', 20);
  const { train, test } = readJson(inputDir('weather-split'), 'split.json') as {
    train: CleanRow[];
    test: CleanRow[];
  };
  const design = buildDesign(train, test, { set, degree, warm });
  writeJson(outputDir('weather-features'), 'features.json', {
    ...design,
    params: { set, degree, warm },
  });
  console.log(`${set}: ${design.names.length} features (${design.names.join(', ')})`);
  printMetric({ features: design.names.length, train_rows: design.train.rows }, 0);
});
