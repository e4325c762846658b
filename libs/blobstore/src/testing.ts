import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import {
  assertRange,
  assertSha256,
  blobNotFound,
  BlobStore,
  checksumMismatch,
  tooLarge,
  type ByteRange,
  type PutExpectations,
  type StoredBlob,
} from './blob-store.js';

/**
 * A blob store in memory, for unit specs (`@acai/blobstore/testing`): the same checks and errors
 * as the real ones (sha256 stated and verified, size limit, not found), bytes kept in a map.
 */
export class InMemoryBlobStore extends BlobStore {
  readonly description = 'memory';
  readonly blobs = new Map<string, Buffer>();

  async put(body: Readable, expect: PutExpectations = {}): Promise<StoredBlob> {
    if (expect.sha256 !== undefined) assertSha256(expect.sha256);
    const bytes = await buffer(body);
    if (expect.maxBytes !== undefined && bytes.length > expect.maxBytes) {
      throw tooLarge(expect.maxBytes);
    }
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (expect.sha256 !== undefined && expect.sha256 !== sha256) {
      throw checksumMismatch(expect.sha256, sha256);
    }
    const created = !this.blobs.has(sha256);
    this.blobs.set(sha256, bytes);
    return { sha256, size: bytes.length, created };
  }

  /** Stores bytes directly; answers their sha256. */
  add(content: string | Buffer): string {
    const bytes = typeof content === 'string' ? Buffer.from(content) : content;
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    this.blobs.set(sha256, bytes);
    return sha256;
  }

  async stat(sha256: string): Promise<{ size: number } | null> {
    const bytes = this.blobs.get(assertSha256(sha256));
    return bytes === undefined ? null : { size: bytes.length };
  }

  async get(sha256: string, range?: ByteRange): Promise<Readable> {
    const bytes = this.blobs.get(assertSha256(sha256));
    if (bytes === undefined) throw blobNotFound(sha256);
    if (range === undefined) return Readable.from([bytes]);
    assertRange(range);
    return Readable.from([bytes.subarray(range.start, range.end + 1)]);
  }

  async delete(sha256: string): Promise<void> {
    this.blobs.delete(assertSha256(sha256));
  }
}
