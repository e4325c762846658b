export * from './decider.js';
export * from './pipeline.js';
export * from './job.decider.js';
export * from './run.decider.js';
export * from './views.js';
export * from './attempt-outcome.js';
