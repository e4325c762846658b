// Step 2 (flights3m): `flights3m-table` → `flights3m-split` (train.json and test.json with their
// columns beside them: the cleaned flights, split).
//
//   MAX_DELAY      flights more than this many minutes late or early are dropped (default 1440)
//   TEST_FRACTION  the share of flights held out for evaluation (default 0.2)
//   SEED           the split's shuffle (default 1)
import { inputDir, intParam, numberParam, outputDir, printMetric, runJob } from './acai.js';
import { writeColumns } from './columns-file.js';
import { cleanFlights3m, flightColumns, readFlights, splitFlights3m } from './flights3m.js';

runJob(() => {
  const maxDelay = numberParam('MAX_DELAY', 1440, { min: 0 });
  const testFraction = numberParam('TEST_FRACTION', 0.2, { min: 0.01, max: 0.99 });
  const seed = intParam('SEED', 1);
  const table = readFlights(inputDir('flights3m-table'), 'table');
  const cleaned = cleanFlights3m(table, { maxDelay });
  const { train, test } = splitFlights3m(cleaned.table, testFraction, seed);
  const out = outputDir('flights3m-split');
  const extra = {
    airports: table.airports,
    dropped: cleaned.dropped,
    params: { maxDelay, testFraction, seed },
  };
  writeColumns(out, 'train', flightColumns(train), extra);
  writeColumns(out, 'test', flightColumns(test), extra);
  console.log(
    `kept ${cleaned.table.delay.length} of ${table.delay.length} flights ` +
      `(dropped: ${JSON.stringify(cleaned.dropped)}); ${train.delay.length} train, ${test.delay.length} test`,
  );
  printMetric({ train_rows: train.delay.length, test_rows: test.delay.length }, 0);
});
