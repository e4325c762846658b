// The reusable parts of the tabular example: the table, the features and the models, without the
// job programs (load.js, clean.js, featurize.js, train.js, evaluate.js and the flights' load-flights.js,
// clean-flights.js, featurize-flights.js), which run when loaded.
export * from './acai.js';
export * from './design.js';
export * from './design-file.js';
export * from './flights.js';
export * from './models.js';
export * from './rng.js';
export * from './weather.js';
