export { BlobStore, tooLarge } from './blob-store.js';
export { HashingCounter } from './hashing.js';
export { blobStoreFromUrl, parseBlobStoreUrl } from './from-url.js';
export { commitChanges } from './commit-changes.js';
