// Step 1 (flights): file set `flights` (flights-200k.json as vega-datasets ships it) →
// `flights-table` (table.json: the flights by column). Fails on a value it does not understand.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { inputDir, JobError, outputDir, printMetric, runJob, writeJson } from './acai.js';
import { parseFlightsJson } from './flights.js';
import { TableError } from './weather.js';

runJob(() => {
  const file = path.join(inputDir('flights'), 'flights-200k.json');
  let table;
  try {
    table = parseFlightsJson(readFileSync(file, 'utf8'));
  } catch (error) {
    if (error instanceof TableError) throw new JobError(`${file}: ${error.message}`);
    throw error;
  }
  writeJson(outputDir('flights-table'), 'table.json', table);
  console.log(`read ${table.delay.length} flights from ${file}`);
  printMetric({ rows: table.delay.length }, 0);
});
