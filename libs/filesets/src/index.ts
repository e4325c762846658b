export * from './paths.js';
export * from './manifest.js';
export * from './fileset.decider.js';
export * from './search.js';
