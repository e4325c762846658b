import { defineProblems, ErrorCode } from '../errors.js';

/** Problems of the content-addressed blob store. */
export const BlobProblems = defineProblems('blobs', {
  SHA256_INVALID: {
    code: ErrorCode.ValidationFailed,
    title: 'The value is not a sha256 (64 lower-case hex digits)',
  },
  CHECKSUM_MISMATCH: {
    code: ErrorCode.ValidationFailed,
    title: 'The upload does not have the sha256 it was sent as',
  },
  UPLOAD_TOO_LARGE: {
    code: ErrorCode.PayloadTooLarge,
    title: 'The upload is larger than this store accepts',
  },
  UPLOAD_BODY_MISSING: {
    code: ErrorCode.ValidationFailed,
    title: 'The upload has no body',
  },
  BLOB_NOT_FOUND: { code: ErrorCode.NotFound, title: 'No such blob in the store' },
  RANGE_INVALID: {
    code: ErrorCode.ValidationFailed,
    title: 'The byte range is invalid or outside the blob',
  },
  UPLOAD_OVER_QUOTA: {
    code: ErrorCode.PayloadTooLarge,
    title: 'The upload alone is larger than the project’s storage quota',
  },
  STORAGE_QUOTA_EXCEEDED: {
    code: ErrorCode.InsufficientStorage,
    title: 'The upload would take the project over its storage quota',
  },
  STORE_SIZE_MISMATCH: {
    code: ErrorCode.Internal,
    retryable: true,
    title: 'The store kept a different number of bytes than were sent',
  },
});
