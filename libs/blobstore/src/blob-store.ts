import type { Readable } from 'node:stream';
import { AcaiError, BlobProblems } from '@acai/contracts';

export const SHA256 = /^[0-9a-f]{64}$/;

export interface PutExpectations {
  /** The sha256 the client states; the upload is refused (and nothing kept) if the bytes differ. */
  readonly sha256?: string;
  /** Refuse (and keep nothing) past this many bytes. */
  readonly maxBytes?: number;
}

export interface StoredBlob {
  readonly sha256: string;
  readonly size: number;
  /** False when the store already had these bytes: blobs are stored once. */
  readonly created: boolean;
}

export interface ByteRange {
  /** First byte, inclusive. */
  readonly start: number;
  /** Last byte, inclusive. */
  readonly end: number;
}

/**
 * Content-addressed storage of file bytes. A blob is written once under its sha256 and becomes
 * visible only when it is complete and verified; an interrupted or refused upload leaves nothing.
 * An abstract class: a type and an injection token at once.
 */
export abstract class BlobStore {
  /** Where it stores, for logs and errors (never with credentials). */
  abstract readonly description: string;
  abstract put(body: Readable, expect?: PutExpectations): Promise<StoredBlob>;
  /** Size of a stored blob, or null when it is not there. */
  abstract stat(sha256: string): Promise<{ size: number } | null>;
  /** Reads a blob, or one byte range of it. NOT_FOUND when it is not there. */
  abstract get(sha256: string, range?: ByteRange): Promise<Readable>;
  abstract delete(sha256: string): Promise<void>;
  /**
   * Where a stored blob is on this machine's file system, for stores that keep blobs in files
   * (to clone or link instead of copying); undefined for remote stores. Read only: never write it.
   */
  localPath?(sha256: string): string;
}

export function assertSha256(value: string): string {
  if (!SHA256.test(value)) {
    throw new AcaiError(
      BlobProblems.SHA256_INVALID,
      `'${value}' is not a sha256 (64 lower-case hex digits)`,
      [{ path: 'sha256', message: 'expected 64 lower-case hex digits' }],
    );
  }
  return value;
}

export function checksumMismatch(stated: string, actual: string): AcaiError {
  return new AcaiError(
    BlobProblems.CHECKSUM_MISMATCH,
    `The upload's sha256 is ${actual}, not the ${stated} it was sent as; nothing was stored. Send the file again.`,
    [{ path: 'sha256', message: 'does not match the bytes' }],
  );
}

export function tooLarge(maxBytes: number): AcaiError {
  return new AcaiError(
    BlobProblems.UPLOAD_TOO_LARGE,
    `The upload is larger than the ${maxBytes} bytes allowed (ACAI_MAX_UPLOAD_BYTES); nothing was stored. Split the file, or raise ACAI_MAX_UPLOAD_BYTES on the server.`,
  );
}

export function blobNotFound(sha256: string): AcaiError {
  return new AcaiError(BlobProblems.BLOB_NOT_FOUND, `No blob ${sha256} in the store`);
}

/** A range must be whole numbers with 0 <= start <= end; stores refuse anything else alike. */
export function assertRange(range: ByteRange): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new AcaiError(BlobProblems.RANGE_INVALID, `Bytes ${start}-${end} is not a byte range`, [
      { path: 'range', message: 'expected whole numbers with 0 <= start <= end' },
    ]);
  }
}
