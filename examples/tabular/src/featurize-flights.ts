// Step 3 (flights): `flights-split` → `flights-features` (features.json, with the matrices,
// targets and labels beside it in *.f32 files: see design-file.ts).
//
//   FEATURES        basic (standardised distance and log distance, departure time on the clock),
//                   hourly (basic plus departure hour and distance band one-hot) or target
//                   (hourly plus target encodings of hour, band and hour × band, from the train
//                   rows only) (default hourly)
//   BANDS           distance bands, quantiles of the train rows' distances (default 10)
//   SMOOTHING       target: flights' worth of the overall mean in each group's mean (default 20)
//   ENCODING_FOLDS  target: train rows are encoded out of fold (default 5; 1 encodes each train
//                   row with its own delay included, which leaks)
//   SEED            the encoding folds' shuffle (default 1)
//   LATE            a flight at least this many minutes late is labelled late (default 15, the
//                   U.S. DOT's definition)
import {
  choiceParam,
  inputDir,
  intParam,
  numberParam,
  outputDir,
  printMetric,
  readJson,
  runJob,
} from './acai.js';
import { writeBinaryDesign } from './design-file.js';
import { buildFlightsDesign, FLIGHT_FEATURE_SETS, type FlightColumns } from './flights.js';

runJob(() => {
  const set = choiceParam('FEATURES', FLIGHT_FEATURE_SETS, 'hourly');
  const bands = intParam('BANDS', 10, { min: 2, max: 100 });
  const smoothing = numberParam('SMOOTHING', 20, { min: 0 });
  const encodingFolds = intParam('ENCODING_FOLDS', 5, { min: 1, max: 20 });
  const seed = intParam('SEED', 1);
  const late = numberParam('LATE', 15);
  const { train, test } = readJson(inputDir('flights-split'), 'split.json') as {
    train: FlightColumns;
    test: FlightColumns;
  };
  const design = buildFlightsDesign(train, test, {
    set,
    bands,
    smoothing,
    encodingFolds,
    seed,
    late,
  });
  writeBinaryDesign(outputDir('flights-features'), design, {
    params: { set, bands, smoothing, encodingFolds, seed, late },
  });
  console.log(`${set}: ${design.names.length} features (${design.names.join(', ')})`);
  printMetric({ features: design.names.length, train_rows: design.train.rows }, 0);
});
