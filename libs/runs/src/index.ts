export * from './pipeline.js';
export * from './job.decider.js';
export * from './run.decider.js';
export * from './history.projection.js';
export * from './attempt-outcome.js';
