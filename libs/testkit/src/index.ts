export * from './env.js';
export * from './decider-spec.js';
