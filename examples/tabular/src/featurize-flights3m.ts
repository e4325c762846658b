// Step 3 (flights3m): `flights3m-split` → `flights3m-features` (features.json, with the matrices,
// targets and labels beside it in *.f32 files: see design-file.ts).
//
//   FEATURES        calendar (distance, departure time, hour, weekday and month one-hot), traffic
//                   (calendar plus flights leaving the origin that day and hour and arriving at the
//                   destination that day) or target (traffic plus target encodings of origin,
//                   destination, route and origin × hour, from the train rows only) (default
//                   traffic)
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
  runJob,
} from './acai.js';
import { writeBinaryDesign } from './design-file.js';
import { buildFlights3mDesign, FLIGHTS3M_FEATURE_SETS, readFlights } from './flights3m.js';

runJob(() => {
  const set = choiceParam('FEATURES', FLIGHTS3M_FEATURE_SETS, 'traffic');
  const smoothing = numberParam('SMOOTHING', 20, { min: 0 });
  const encodingFolds = intParam('ENCODING_FOLDS', 5, { min: 1, max: 20 });
  const seed = intParam('SEED', 1);
  const late = numberParam('LATE', 15);
  const folder = inputDir('flights3m-split');
  const train = readFlights(folder, 'train');
  const test = readFlights(folder, 'test');
  const design = buildFlights3mDesign(train, test, { set, smoothing, encodingFolds, seed, late });
  writeBinaryDesign(outputDir('flights3m-features'), design, {
    params: { set, smoothing, encodingFolds, seed, late },
  });
  console.log(`${set}: ${design.names.length} features (${design.names.join(', ')})`);
  printMetric({ features: design.names.length, train_rows: design.train.rows }, 0);
});
