export * from './blob-store.js';
export * from './hashing.js';
export * from './local-store.js';
export * from './s3-store.js';
export * from './from-url.js';
export * from './commit-changes.js';
