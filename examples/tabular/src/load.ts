// Step 1: file set `weather` (weather.csv as vega-datasets ships it) → `weather-table`
// (table.json: the rows, typed). Fails on a header or row it does not understand.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { inputDir, JobError, outputDir, printMetric, runJob, writeJson } from './acai.js';
import { parseWeatherCsv, TableError } from './weather.js';

runJob(() => {
  const file = path.join(inputDir('weather'), 'weather.csv');
  let rows;
  try {
    rows = parseWeatherCsv(readFileSync(file, 'utf8'));
  } catch (error) {
    if (error instanceof TableError) throw new JobError(`${file}: ${error.message}`);
    throw error;
  }
  writeJson(outputDir('weather-table'), 'table.json', { rows });
  const locations = new Set(rows.map((r) => r.location));
  console.log(`read ${rows.length} rows (${[...locations].join(', ')}) from ${file}`);
  printMetric({ rows: rows.length, locations: locations.size }, 0);
});
