import { createHash, randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { BlobProblems } from '@acai/contracts';
import { startS3rver } from '@acai/testkit';
import { blobStoreFromUrl, parseBlobStoreUrl } from './from-url.js';
import { LocalBlobStore } from './local-store.js';
import { S3BlobStore } from './s3-store.js';

const bucket = 'acai-test';
const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const MiB = 1024 * 1024;

let server: Awaited<ReturnType<typeof startS3rver>> | undefined;
let endpoint: string;
let admin: S3Client;
const stores: S3BlobStore[] = [];

beforeAll(async () => {
  server = await startS3rver(bucket);
  endpoint = server.endpoint;
  admin = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials });
});

afterAll(async () => {
  for (const store of stores) store.destroy();
  admin?.destroy();
  await server?.close();
});

/** A store on its own prefix, so each test sees only its own objects. */
function newStore(): { store: S3BlobStore; prefix: string } {
  const prefix = `t-${randomUUID()}/`;
  const store = new S3BlobStore({
    bucket,
    prefix,
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials,
    partSizeBytes: 5 * MiB,
  });
  stores.push(store);
  return { store, prefix };
}

/** Every key in the bucket under `prefix`, as a client listing the bucket sees them. */
async function keysUnder(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await admin.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) keys.push(object.Key!);
    token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return keys.sort();
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function sha256Of(stream: Readable): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

/**
 * A body of unknown length, produced lazily in odd-sized chunks (as a network upload arrives),
 * with the sha256 of everything it produced. It fails after `failAfter` bytes when given.
 */
function streamedBody(size: number, failAfter?: number): { body: Readable; sha256: () => string } {
  const hash = createHash('sha256');
  let produced = 0;
  const body = new Readable({
    read() {
      if (failAfter !== undefined && produced >= failAfter) {
        this.destroy(new Error('connection reset by peer'));
        return;
      }
      if (produced >= size) {
        this.push(null);
        return;
      }
      const chunk = randomBytes(Math.min(size - produced, 300_007));
      hash.update(chunk);
      produced += chunk.length;
      this.push(chunk);
    },
  });
  let digest: string | undefined;
  return { body, sha256: () => (digest ??= hash.digest('hex')) };
}

function finalKey(prefix: string, sha: string): string {
  return `${prefix}sha256/${sha.slice(0, 2)}/${sha.slice(2, 4)}/${sha}`;
}

describe('S3BlobStore against s3rver', () => {
  it('stores a streamed body of unknown length in parts, and reads back exactly those bytes', async () => {
    const { store, prefix } = newStore();
    const size = 20 * MiB + 12_345;
    const { body, sha256: produced } = streamedBody(size);

    const stored = await store.put(body);

    expect(stored).toEqual({ sha256: produced(), size, created: true });
    expect(await store.stat(stored.sha256)).toEqual({ size });
    // Read back and hash: a store that kept framing or lost a part would still report success.
    expect(await sha256Of(await store.get(stored.sha256))).toEqual({ sha256: produced(), size });
    expect(await keysUnder(prefix)).toEqual([finalKey(prefix, stored.sha256)]);
  });

  it('stores a small body (one request) and reads it back', async () => {
    const { store, prefix } = newStore();
    const bytes = randomBytes(70_000);

    const stored = await store.put(Readable.from([bytes]), { sha256: sha256(bytes) });

    expect(stored).toEqual({ sha256: sha256(bytes), size: bytes.length, created: true });
    expect(await readAll(await store.get(stored.sha256))).toEqual(bytes);
    expect(await keysUnder(prefix)).toEqual([finalKey(prefix, stored.sha256)]);
  });

  it('stores an empty body', async () => {
    const { store } = newStore();
    const stored = await store.put(Readable.from([]));
    expect(stored).toEqual({ sha256: sha256(Buffer.alloc(0)), size: 0, created: true });
    expect(await readAll(await store.get(stored.sha256))).toEqual(Buffer.alloc(0));
  });

  it('stores the same bytes once: the second upload reports created: false and leaves no temporary object', async () => {
    const { store, prefix } = newStore();
    const bytes = randomBytes(6 * MiB);

    const first = await store.put(Readable.from([bytes]));
    const second = await store.put(Readable.from([bytes]), { sha256: first.sha256 });

    expect(first.created).toBe(true);
    expect(second).toEqual({ sha256: first.sha256, size: bytes.length, created: false });
    expect(await keysUnder(prefix)).toEqual([finalKey(prefix, first.sha256)]);
    expect(await keysUnder(`${prefix}tmp/`)).toEqual([]);
  });

  it.each([
    ['a small body', 1_000],
    ['a multipart body', 11 * MiB],
  ])(
    'refuses %s whose bytes do not match the stated sha256, and keeps nothing',
    async (_what, size) => {
      const { store, prefix } = newStore();
      const bytes = randomBytes(size);
      const stated = sha256(Buffer.from('other bytes'));

      await expect(store.put(Readable.from([bytes]), { sha256: stated })).rejects.toMatchObject({
        reason: BlobProblems.CHECKSUM_MISMATCH.reason,
      });
      expect(await store.stat(sha256(bytes))).toBeNull();
      expect(await store.stat(stated)).toBeNull();
      expect(await keysUnder(prefix)).toEqual([]);
    },
  );

  it('refuses a body past maxBytes with PAYLOAD_TOO_LARGE, and keeps nothing', async () => {
    const { store, prefix } = newStore();
    const { body } = streamedBody(12 * MiB);

    await expect(store.put(body, { maxBytes: 11 * MiB })).rejects.toMatchObject({
      code: BlobProblems.UPLOAD_TOO_LARGE.code,
      reason: BlobProblems.UPLOAD_TOO_LARGE.reason,
    });
    expect(await keysUnder(prefix)).toEqual([]);
  });

  it.each([
    ['before the first part', 1 * MiB],
    ['after some parts were uploaded', 12 * MiB],
  ])('keeps nothing from an upload interrupted %s', async (_when, failAfter) => {
    const { store, prefix } = newStore();
    const { body } = streamedBody(20 * MiB, failAfter);

    await expect(store.put(body)).rejects.toThrow('connection reset by peer');
    expect(await keysUnder(prefix)).toEqual([]);
  });

  it('reads exactly the requested byte range', async () => {
    const { store } = newStore();
    const bytes = randomBytes(100_000);
    const { sha256: id } = await store.put(Readable.from([bytes]));

    expect(await readAll(await store.get(id, { start: 1_000, end: 1_999 }))).toEqual(
      bytes.subarray(1_000, 2_000),
    );
    // Not { start: 0, end: 0 }: s3rver 3.7 reads `bytes=0-0` as "from 0 to the end".
    expect(await readAll(await store.get(id, { start: 0, end: 9 }))).toEqual(bytes.subarray(0, 10));
    expect(await readAll(await store.get(id, { start: 99_990, end: 99_999 }))).toEqual(
      bytes.subarray(99_990),
    );
    await expect(store.get(id, { start: 10, end: 9 })).rejects.toMatchObject({
      reason: BlobProblems.RANGE_INVALID.reason,
    });
  });

  it('answers null from stat and NOT_FOUND from get for a blob it does not have', async () => {
    const { store } = newStore();
    const missing = sha256(Buffer.from('never stored'));

    expect(await store.stat(missing)).toBeNull();
    await expect(store.get(missing)).rejects.toMatchObject({
      reason: BlobProblems.BLOB_NOT_FOUND.reason,
    });
    await expect(store.get(missing, { start: 0, end: 9 })).rejects.toMatchObject({
      reason: BlobProblems.BLOB_NOT_FOUND.reason,
    });
  });

  it('deletes a blob', async () => {
    const { store, prefix } = newStore();
    const { sha256: id } = await store.put(Readable.from([randomBytes(1_000)]));

    await store.delete(id);

    expect(await store.stat(id)).toBeNull();
    await expect(store.get(id)).rejects.toMatchObject({
      reason: BlobProblems.BLOB_NOT_FOUND.reason,
    });
    expect(await keysUnder(prefix)).toEqual([]);
    await store.delete(id);
  });

  it.each(['../../etc/passwd', 'A'.repeat(64)])(
    'refuses %s as a sha256 without touching the bucket',
    async (bad) => {
      const { store, prefix } = newStore();
      await expect(
        store.put(Readable.from([Buffer.from('x')]), { sha256: bad }),
      ).rejects.toMatchObject({ reason: BlobProblems.SHA256_INVALID.reason });
      await expect(store.get(bad)).rejects.toMatchObject({
        reason: BlobProblems.SHA256_INVALID.reason,
      });
      await expect(store.stat(bad)).rejects.toMatchObject({
        reason: BlobProblems.SHA256_INVALID.reason,
      });
      await expect(store.delete(bad)).rejects.toMatchObject({
        reason: BlobProblems.SHA256_INVALID.reason,
      });
      expect(await keysUnder(prefix)).toEqual([]);
    },
  );

  it('describes where it stores, without credentials', () => {
    const { store, prefix } = newStore();
    expect(store.description).toBe(`s3://${bucket}/${prefix} at ${endpoint}`);
    expect(store.description).not.toContain(credentials.secretAccessKey);
  });
});

describe('blobStoreFromUrl', () => {
  it('builds an S3 store from an s3:// URL that works against the server', async () => {
    const prefix = `url-${randomUUID()}`;
    const url =
      `s3://${bucket}/${prefix}?endpoint=${encodeURIComponent(endpoint)}` +
      '&region=us-east-1&forcePathStyle=true&accessKeyId=S3RVER&secretAccessKey=S3RVER';

    const store = blobStoreFromUrl(url);

    expect(store).toBeInstanceOf(S3BlobStore);
    stores.push(store as S3BlobStore);
    expect(store.description).toBe(`s3://${bucket}/${prefix}/ at ${endpoint}`);
    const bytes = randomBytes(10_000);
    const stored = await store.put(Readable.from([bytes]));
    expect(await readAll(await store.get(stored.sha256))).toEqual(bytes);
    expect(await keysUnder(`${prefix}/`)).toEqual([finalKey(`${prefix}/`, stored.sha256)]);
  });

  it('reads every part of an s3:// URL', () => {
    expect(
      parseBlobStoreUrl(
        's3://my-bucket/a/b?endpoint=http://127.0.0.1:9000&region=eu-west-1&forcePathStyle=true' +
          '&partSizeBytes=16777216&accessKeyId=K&secretAccessKey=S',
      ),
    ).toEqual({
      kind: 's3',
      options: {
        bucket: 'my-bucket',
        prefix: 'a/b',
        endpoint: 'http://127.0.0.1:9000',
        region: 'eu-west-1',
        forcePathStyle: true,
        partSizeBytes: 16 * MiB,
        credentials: { accessKeyId: 'K', secretAccessKey: 'S' },
      },
    });
    // AWS itself: region and credentials from the SDK's chain.
    expect(parseBlobStoreUrl('s3://my-bucket')).toEqual({
      kind: 's3',
      options: { bucket: 'my-bucket', prefix: '' },
    });
  });

  it('builds a local store from a file:// URL or a plain path', () => {
    expect(parseBlobStoreUrl('file:///var/lib/acai/blobs')).toEqual({
      kind: 'local',
      root: '/var/lib/acai/blobs',
    });
    expect(parseBlobStoreUrl('/var/lib/acai/blobs')).toEqual({
      kind: 'local',
      root: '/var/lib/acai/blobs',
    });
    expect(parseBlobStoreUrl('data/blobs')).toEqual({
      kind: 'local',
      root: path.resolve('data/blobs'),
    });
    const store = blobStoreFromUrl('file:///var/lib/acai/blobs');
    expect(store).toBeInstanceOf(LocalBlobStore);
    expect(store.description).toBe('local:/var/lib/acai/blobs');
  });

  it.each([
    ['', 'empty'],
    ['http://example.com/blobs', "scheme 'http:'"],
    ['s3://', 'bucket name'],
    ['s3://ab/prefix', 'bucket name'],
    ['s3://My_Bucket/prefix', 'bucket name'],
    ['s3://bucket/p?endpoint=not-a-url', 'endpoint'],
    ['s3://bucket/p?forcePathStyle=yes', 'forcePathStyle'],
    ['s3://bucket/p?regoin=us-east-1', "unknown parameter 'regoin'"],
    ['s3://bucket/p?accessKeyId=K', 'both accessKeyId and secretAccessKey'],
    ['s3://bucket/p?partSizeBytes=1024', 'part size'],
    ['file://otherhost/blobs', 'file URL'],
  ])('refuses %j, naming ACAI_BLOB_STORE and the accepted forms', (url, reason) => {
    expect(() => blobStoreFromUrl(url)).toThrow(reason);
    expect(() => blobStoreFromUrl(url)).toThrow(/^ACAI_BLOB_STORE=.*Accepted forms: file:\/\//);
  });

  it('never echoes a secret key in its error', () => {
    let message = '';
    try {
      blobStoreFromUrl('s3://bucket/p?accessKeyId=K&secretAccessKey=hunter2&x=1');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain("unknown parameter 'x'");
    expect(message).toContain('secretAccessKey=***');
    expect(message).not.toContain('hunter2');
  });
});
