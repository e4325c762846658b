export * from './instance-types.js';
export * from './offers.js';
export * from './runtime-model.js';
export * from './plan.js';
export * from './profiling.js';
export { formatDollars, formatSeconds } from './format.js';
export * from './cpu-curve-model.js';
export * from './profile.decider.js';
