import type { BlobStore } from '@acai/blobstore';

/** The blob store the gateway streams uploads into and downloads out of, and the upload limit. */
export class GatewayBlobs {
  constructor(
    readonly store: BlobStore,
    readonly maxBytes: number,
  ) {}
}
