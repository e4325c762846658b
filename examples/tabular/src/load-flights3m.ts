// Step 1 (flights3m): file set `flights3m` (flights-3m.parquet as vega-datasets ships it) →
// `flights3m-table` (table.json and one binary file per column: see columns-file.ts). Fails on a
// value it does not understand.
//
//   ROWS  read only the first ROWS flights (default: all 3,000,000)
import path from 'node:path';
import { inputDir, intParam, JobError, outputDir, printMetric, runJob } from './acai.js';
import { writeColumns } from './columns-file.js';
import { flightColumns, readFlights3mParquet } from './flights3m.js';
import { TableError } from './weather.js';

runJob(async () => {
  const rows = intParam('ROWS', Number.MAX_SAFE_INTEGER, { min: 1 });
  const file = path.join(inputDir('flights3m'), 'flights-3m.parquet');
  let table;
  try {
    table = await readFlights3mParquet(file, { rowEnd: rows });
  } catch (error) {
    if (error instanceof TableError) throw new JobError(`${file}: ${error.message}`);
    throw error;
  }
  writeColumns(outputDir('flights3m-table'), 'table', flightColumns(table), {
    airports: table.airports,
  });
  console.log(
    `read ${table.delay.length} flights between ${table.airports.length} airports from ${file}`,
  );
  printMetric({ rows: table.delay.length, airports: table.airports.length }, 0);
});
