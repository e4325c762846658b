export { BlobStore, tooLarge } from './blob-store.js';
export { HashingCounter } from './hashing.js';
export { blobStoreFromUrl, parseBlobStoreUrl } from './from-url.js';
export { commitChanges } from './commit-changes.js';
export {
  availableBytes,
  overQuotaCutOff,
  quotaOf,
  quotaRefusal,
  type QuotaState,
} from './quota.js';
