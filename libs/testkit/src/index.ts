export * from './env.js';
export * from './decider-spec.js';
export * from './s3rver.js';
