// Step 2: `weather-table` → `weather-split` (split.json: cleaned train and test rows).
//
//   MAX_PRECIPITATION  rows with more rain than this (mm) are dropped as errors (default 200)
//   TEST_FRACTION      the share of rows held out for evaluation (default 0.2)
//   SEED               the split's shuffle (default 1)
import {
  inputDir,
  intParam,
  numberParam,
  outputDir,
  printMetric,
  readJson,
  runJob,
  writeJson,
} from './acai.js';
import { cleanRows, splitRows, type WeatherRow } from './weather.js';

runJob(() => {
  const maxPrecipitation = numberParam('MAX_PRECIPITATION', 200, { min: 0 });
  const testFraction = numberParam('TEST_FRACTION', 0.2, { min: 0.01, max: 0.99 });
  const seed = intParam('SEED', 1);
  const { rows } = readJson(inputDir('weather-table'), 'table.json') as { rows: WeatherRow[] };
  const cleaned = cleanRows(rows, { maxPrecipitation });
  const { train, test } = splitRows(cleaned.rows, testFraction, seed);
  writeJson(outputDir('weather-split'), 'split.json', {
    train,
    test,
    dropped: cleaned.dropped,
    params: { maxPrecipitation, testFraction, seed },
  });
  console.log(
    `kept ${cleaned.rows.length} of ${rows.length} rows (dropped: ${JSON.stringify(cleaned.dropped)}); ` +
      `${train.length} train, ${test.length} test`,
  );
  printMetric({ train_rows: train.length, test_rows: test.length }, 0);
});
