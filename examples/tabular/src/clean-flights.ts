// Step 2 (flights): `flights-table` → `flights-split` (split.json: cleaned train and test flights,
// by column).
//
//   MAX_DELAY      flights more than this many minutes late or early are dropped (default 1440)
//   TEST_FRACTION  the share of flights held out for evaluation (default 0.2)
//   SEED           the split's shuffle (default 1)
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
import { cleanFlights, splitFlights, type FlightColumns } from './flights.js';

runJob(() => {
  const maxDelay = numberParam('MAX_DELAY', 1440, { min: 0 });
  const testFraction = numberParam('TEST_FRACTION', 0.2, { min: 0.01, max: 0.99 });
  const seed = intParam('SEED', 1);
  const table = readJson(inputDir('flights-table'), 'table.json') as FlightColumns;
  const cleaned = cleanFlights(table, { maxDelay });
  const { train, test } = splitFlights(cleaned.table, testFraction, seed);
  writeJson(outputDir('flights-split'), 'split.json', {
    train,
    test,
    dropped: cleaned.dropped,
    params: { maxDelay, testFraction, seed },
  });
  console.log(
    `kept ${cleaned.table.delay.length} of ${table.delay.length} flights ` +
      `(dropped: ${JSON.stringify(cleaned.dropped)}); ${train.delay.length} train, ${test.delay.length} test`,
  );
  printMetric({ train_rows: train.delay.length, test_rows: test.delay.length }, 0);
});
