import { randomUUID } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCopyCommand,
  type CompletedPart,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { AcaiError, BlobProblems } from '@acai/contracts';
import {
  assertRange,
  assertSha256,
  blobNotFound,
  checksumMismatch,
  type BlobStore,
  type ByteRange,
  type PutExpectations,
  type StoredBlob,
} from './blob-store.js';
import { HashingCounter } from './hashing.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** S3's smallest part (but the last) and largest part. */
const MIN_PART_BYTES = 5 * MiB;
const MAX_PART_BYTES = 5 * GiB;
/** S3 refuses a multipart upload of more than 10,000 parts. */
const MAX_PARTS = 10_000;
const DEFAULT_PART_BYTES = 8 * MiB;
/** Parts uploaded (or copied) at once; an upload buffers at most this many parts in memory. */
const QUEUE_SIZE = 4;
/** CopyObject copies at most 5 GiB in one request; past that, a multipart copy (UploadPartCopy). */
const MAX_SINGLE_COPY_BYTES = 5 * GiB;
const MIN_COPY_PART_BYTES = 512 * MiB;

export interface S3StoreOptions {
  readonly bucket: string;
  /** Key prefix, e.g. `acai/blobs/`; a trailing `/` is added when missing. */
  readonly prefix?: string;
  /** Defaults to the SDK's chain (AWS_REGION, the shared config file). */
  readonly region?: string;
  /** For S3-compatible servers (MinIO, s3rver, R2): `http://127.0.0.1:9000`. */
  readonly endpoint?: string;
  /** Address the bucket in the path (`host/bucket/key`), as most S3-compatible servers need. */
  readonly forcePathStyle?: boolean;
  /** Defaults to the SDK's chain (environment, shared credentials file, instance role). */
  readonly credentials?: S3ClientConfig['credentials'];
  /** Multipart part size, 5 MiB to 5 GiB; default 8 MiB. Memory per upload is about 4 parts. */
  readonly partSizeBytes?: number;
}

/**
 * Blobs in an S3 bucket (or an S3-compatible store): `<prefix>sha256/ab/cd/<sha256>`.
 *
 * An upload streams, hashed as it goes, into a multipart upload to `<prefix>tmp/<uuid>`; once the
 * bytes are verified it is copied to its final key (a copy appears whole or not at all) and the
 * temporary object deleted. A failed or interrupted upload aborts its multipart upload and deletes
 * the temporary object, so no blob is ever visible before it is complete and verified.
 *
 * A process killed mid-upload cannot clean up after itself: give the bucket a lifecycle rule that
 * aborts incomplete multipart uploads and expires `<prefix>tmp/` after a day.
 */
export class S3BlobStore implements BlobStore {
  readonly description: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSizeBytes: number;

  constructor(options: S3StoreOptions) {
    if (options.bucket.trim() === '') throw new Error('S3BlobStore needs a bucket name');
    const partSize = options.partSizeBytes ?? DEFAULT_PART_BYTES;
    if (!Number.isSafeInteger(partSize) || partSize < MIN_PART_BYTES || partSize > MAX_PART_BYTES) {
      throw new Error(
        `S3BlobStore part size must be a whole number of bytes from 5 MiB to 5 GiB, not ${partSize}`,
      );
    }
    this.bucket = options.bucket;
    this.prefix = normalisePrefix(options.prefix ?? '');
    this.partSizeBytes = partSize;
    this.client = new S3Client({
      region: options.region,
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle,
      credentials: options.credentials,
      // With the SDK's default (WHEN_SUPPORTED), a streamed body of unknown length goes out
      // aws-chunked with a trailing checksum, and S3-compatible servers such as s3rver store the
      // chunk framing as if it were data, silently. We hash every byte ourselves instead.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const where = `s3://${this.bucket}/${this.prefix}`;
    this.description =
      options.endpoint === undefined ? where : `${where} at ${withoutUserInfo(options.endpoint)}`;
  }

  async put(body: Readable, expect: PutExpectations = {}): Promise<StoredBlob> {
    if (expect.sha256 !== undefined) assertSha256(expect.sha256);
    const tmpKey = `${this.prefix}tmp/${randomUUID()}`;
    const counter = new HashingCounter(expect.maxBytes);
    // lib-storage takes a body's `size` property for its length, and HashingCounter has one (0 at
    // the start), so the upload reads from a plain stream behind the counter instead.
    const source = new PassThrough();
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key: tmpKey,
        Body: source,
        ContentType: 'application/octet-stream',
      },
      partSize: this.partSizeFor(expect.maxBytes),
      queueSize: QUEUE_SIZE,
      // We abort the multipart upload ourselves, so that a failure to abort (some S3-compatible
      // servers cannot) never hides the error that made the upload fail.
      leavePartsOnError: true,
    });
    try {
      try {
        await sendBody(body, counter, source, upload);
      } catch (error) {
        await this.abortQuietly(tmpKey, upload.uploadId);
        throw error;
      }
      const sha256 = counter.digest();
      const size = counter.byteCount;
      if (expect.sha256 !== undefined && expect.sha256 !== sha256) {
        throw checksumMismatch(expect.sha256, sha256);
      }
      // Check what the server kept: one that stored aws-chunked framing as data, or lost a part,
      // would hold a different number of bytes than we hashed.
      const stored = await this.sizeOf(tmpKey);
      if (stored !== size) {
        throw new AcaiError(
          BlobProblems.STORE_SIZE_MISMATCH,
          `The store ${this.description} kept ${stored ?? 'no'} bytes for an upload of ${size}; nothing was stored. Send the file again; if this repeats, the S3 server is not keeping uploads whole.`,
        );
      }
      const finalKey = this.keyOf(sha256);
      // Blobs are stored once. Two uploads of the same bytes at the same moment may both copy;
      // the second copy writes identical bytes, which is harmless.
      const existing = await this.sizeOf(finalKey);
      if (existing === size) return { sha256, size, created: false };
      // Missing, or (size differs) corrupt, e.g. written by a client that stored aws-chunked framing.
      await this.copy(tmpKey, finalKey, size);
      return { sha256, size, created: true };
    } finally {
      await this.deleteQuietly(tmpKey);
    }
  }

  async stat(sha256: string): Promise<{ size: number } | null> {
    const size = await this.sizeOf(this.keyOf(assertSha256(sha256)));
    return size === null ? null : { size };
  }

  async get(sha256: string, range?: ByteRange): Promise<Readable> {
    const key = this.keyOf(assertSha256(sha256));
    if (range !== undefined) assertRange(range);
    try {
      const out = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Range: range === undefined ? undefined : `bytes=${range.start}-${range.end}`,
        }),
      );
      if (!(out.Body instanceof Readable)) {
        throw new Error(
          `The S3 client returned no readable body for ${sha256} from ${this.description}`,
        );
      }
      return out.Body;
    } catch (error) {
      if (isNotFound(error)) throw blobNotFound(sha256);
      if (error instanceof S3ServiceException && error.name === 'InvalidRange') {
        throw new AcaiError(
          BlobProblems.RANGE_INVALID,
          `Bytes ${range?.start}-${range?.end} are past the end of blob ${sha256}`,
          [{ path: 'range', message: 'starts past the end of the blob' }],
        );
      }
      throw error;
    }
  }

  async delete(sha256: string): Promise<void> {
    await this.client.send(
      new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keyOf(assertSha256(sha256)) }),
    );
  }

  /** Closes the client's connections. The store is unusable afterwards. */
  destroy(): void {
    this.client.destroy();
  }

  private keyOf(sha256: string): string {
    return `${this.prefix}sha256/${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`;
  }

  /**
   * A multipart upload has at most 10,000 parts, so the configured part size caps an upload at
   * 10,000 parts (78 GiB at 8 MiB). When the caller states a maximum, parts grow to fit it.
   */
  private partSizeFor(maxBytes: number | undefined): number {
    if (maxBytes === undefined || !Number.isFinite(maxBytes)) return this.partSizeBytes;
    return Math.min(MAX_PART_BYTES, Math.max(this.partSizeBytes, Math.ceil(maxBytes / MAX_PARTS)));
  }

  private async sizeOf(key: string): Promise<number | null> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return head.ContentLength ?? 0;
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  private async copy(fromKey: string, toKey: string, size: number): Promise<void> {
    const source = copySource(this.bucket, fromKey);
    if (size <= MAX_SINGLE_COPY_BYTES) {
      await this.client.send(
        new CopyObjectCommand({ Bucket: this.bucket, Key: toKey, CopySource: source }),
      );
      return;
    }
    await this.multipartCopy(source, toKey, size);
  }

  /** Copies an object of more than 5 GiB part by part (UploadPartCopy); it appears when completed. */
  private async multipartCopy(source: string, toKey: string, size: number): Promise<void> {
    const { UploadId } = await this.client.send(
      new CreateMultipartUploadCommand({
        Bucket: this.bucket,
        Key: toKey,
        ContentType: 'application/octet-stream',
      }),
    );
    if (UploadId === undefined)
      throw new Error(`The store ${this.description} started a multipart copy with no id`);
    try {
      const partSize = Math.max(MIN_COPY_PART_BYTES, Math.ceil(size / MAX_PARTS));
      const ranges: { partNumber: number; start: number; end: number }[] = [];
      for (let start = 0; start < size; start += partSize) {
        ranges.push({
          partNumber: ranges.length + 1,
          start,
          end: Math.min(size, start + partSize) - 1,
        });
      }
      const parts = await mapConcurrently(ranges, QUEUE_SIZE, async (r): Promise<CompletedPart> => {
        const out = await this.client.send(
          new UploadPartCopyCommand({
            Bucket: this.bucket,
            Key: toKey,
            UploadId,
            PartNumber: r.partNumber,
            CopySource: source,
            CopySourceRange: `bytes=${r.start}-${r.end}`,
          }),
        );
        const etag = out.CopyPartResult?.ETag;
        if (etag === undefined)
          throw new Error(`The store ${this.description} copied part ${r.partNumber} with no ETag`);
        return { PartNumber: r.partNumber, ETag: etag };
      });
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: toKey,
          UploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
    } catch (error) {
      await this.abortQuietly(toKey, UploadId);
      throw error;
    }
  }

  /**
   * Best effort: the caller is already failing with the error that matters. Parts of an upload
   * that is never aborted stay invisible (and, on S3, billed until a lifecycle rule removes them).
   */
  private async abortQuietly(key: string, uploadId: string | undefined): Promise<void> {
    if (uploadId === undefined) return;
    await this.client
      .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }))
      .catch(() => undefined);
  }

  private async deleteQuietly(key: string): Promise<void> {
    await this.client
      .send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }))
      .catch(() => undefined);
  }
}

/**
 * Streams `body` through `counter` into the upload's `source`. Fails if either side fails: a body
 * that errors or ends early (an interrupted client) never counts as a complete upload, even when
 * the bytes read so far were uploaded.
 */
async function sendBody(
  body: Readable,
  counter: HashingCounter,
  source: PassThrough,
  upload: Upload,
): Promise<void> {
  // pipeline() destroys every stream when one fails, which makes the upload's read fail too.
  const feeding = pipeline(body, counter, source);
  const uploading = upload.done();
  // If the upload fails first, nobody reads the source any more: stop feeding it.
  uploading.catch(() => source.destroy());
  const [fed, sent] = await Promise.allSettled([feeding, uploading]);
  if (sent.status === 'rejected') throw sent.reason;
  if (fed.status === 'rejected') throw fed.reason;
}

async function mapConcurrently<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index]!);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  // Wait for every worker, so that no request is still in flight when the caller cleans up.
  const settled = await Promise.allSettled(
    Array.from({ length: Math.min(limit, items.length) }, worker),
  );
  const failure = settled.find((s) => s.status === 'rejected');
  if (failure !== undefined) throw failure.reason;
  return results;
}

function isNotFound(error: unknown): boolean {
  if (!(error instanceof S3ServiceException)) return false;
  // A missing bucket is a misconfiguration, not a missing blob (HEAD responses carry no error
  // name, so there it cannot be told apart).
  if (error.name === 'NoSuchBucket') return false;
  return (
    error.name === 'NotFound' ||
    error.name === 'NoSuchKey' ||
    error.$metadata.httpStatusCode === 404
  );
}

/** `bucket/key` with each key segment URL-encoded, as x-amz-copy-source expects. */
function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

function normalisePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+/, '');
  return trimmed === '' || trimmed.endsWith('/') ? trimmed : `${trimmed}/`;
}

function withoutUserInfo(endpoint: string): string {
  try {
    const url = new URL(endpoint);
    url.username = '';
    url.password = '';
    return url.toString().replace(/\/$/, '');
  } catch {
    return '(invalid endpoint)';
  }
}
