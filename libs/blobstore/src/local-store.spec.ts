import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { BlobProblems } from '@acai/contracts';
import { LocalBlobStore } from './local-store.js';

let workDir: string;
let parent: string;
let root: string;
let store: LocalBlobStore;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(tmpdir(), 'acai-local-store-'));
});

beforeEach(async () => {
  // Each test gets a fresh root inside its own parent, so "nothing outside the root" is checkable.
  parent = await mkdtemp(path.join(workDir, 'case-'));
  root = path.join(parent, 'root');
  await mkdir(root);
  store = new LocalBlobStore(root);
});

afterAll(async () => {
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Every file under `dir`, relative to it; [] when `dir` does not exist. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [];
      throw error;
    },
  );
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

async function expectNothingStored(): Promise<void> {
  expect(await filesUnder(path.join(root, 'sha256'))).toEqual([]);
  expect(await filesUnder(path.join(root, 'tmp'))).toEqual([]);
}

/** Sends `before` bytes, then fails like a client whose connection dropped. */
function interruptedBody(before: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent < before) {
        const chunk = randomBytes(Math.min(64 * 1024, before - sent));
        sent += chunk.length;
        this.push(chunk);
      } else {
        this.destroy(new Error('connection reset by peer'));
      }
    },
  });
}

describe('LocalBlobStore', () => {
  it('stores bytes under their sha256 and reads them back', async () => {
    const bytes = randomBytes(100_000);
    const stored = await store.put(Readable.from([bytes]));

    expect(stored).toEqual({ sha256: sha256(bytes), size: bytes.length, created: true });
    expect(await store.stat(stored.sha256)).toEqual({ size: bytes.length });
    expect(await readAll(await store.get(stored.sha256))).toEqual(bytes);
    expect(await filesUnder(path.join(root, 'sha256'))).toEqual([
      path.join(stored.sha256.slice(0, 2), stored.sha256.slice(2, 4), stored.sha256),
    ]);
  });

  it('stores the same bytes once: the second upload reports created: false', async () => {
    const bytes = randomBytes(10_000);
    const first = await store.put(Readable.from([bytes]));
    const second = await store.put(Readable.from([bytes]), { sha256: first.sha256 });

    expect(first.created).toBe(true);
    expect(second).toEqual({ sha256: first.sha256, size: bytes.length, created: false });
    expect(await filesUnder(path.join(root, 'sha256'))).toHaveLength(1);
    expect(await filesUnder(path.join(root, 'tmp'))).toEqual([]);
  });

  it('accepts an upload whose stated sha256 matches', async () => {
    const bytes = randomBytes(1_000);
    const stored = await store.put(Readable.from([bytes]), { sha256: sha256(bytes) });
    expect(stored.sha256).toBe(sha256(bytes));
  });

  it('refuses an upload whose bytes do not match the stated sha256, and keeps nothing', async () => {
    const bytes = randomBytes(1_000);
    const stated = sha256(Buffer.from('something else'));

    await expect(store.put(Readable.from([bytes]), { sha256: stated })).rejects.toMatchObject({
      reason: BlobProblems.CHECKSUM_MISMATCH.reason,
    });
    await expectNothingStored();
    expect(await store.stat(sha256(bytes))).toBeNull();
  });

  it('refuses an upload past maxBytes with PAYLOAD_TOO_LARGE, and keeps nothing', async () => {
    const bytes = randomBytes(10_000);

    await expect(store.put(Readable.from([bytes]), { maxBytes: 9_999 })).rejects.toMatchObject({
      code: BlobProblems.UPLOAD_TOO_LARGE.code,
      reason: BlobProblems.UPLOAD_TOO_LARGE.reason,
    });
    await expectNothingStored();
  });

  it('accepts an upload of exactly maxBytes', async () => {
    const bytes = randomBytes(10_000);
    const stored = await store.put(Readable.from([bytes]), { maxBytes: 10_000 });
    expect(stored.size).toBe(10_000);
  });

  it.each([0, 300_000])('keeps nothing from an upload interrupted after %d bytes', async (n) => {
    await expect(store.put(interruptedBody(n))).rejects.toThrow('connection reset by peer');
    await expectNothingStored();
  });

  it('reads exactly the requested byte range', async () => {
    const bytes = randomBytes(5_000);
    const { sha256: id } = await store.put(Readable.from([bytes]));

    expect(await readAll(await store.get(id, { start: 10, end: 19 }))).toEqual(
      bytes.subarray(10, 20),
    );
    expect(await readAll(await store.get(id, { start: 0, end: 0 }))).toEqual(bytes.subarray(0, 1));
    expect(await readAll(await store.get(id, { start: 4_990, end: 4_999 }))).toEqual(
      bytes.subarray(4_990),
    );
  });

  it('answers NOT_FOUND for a blob it does not have, and null from stat', async () => {
    const missing = sha256(Buffer.from('never stored'));
    await expect(store.get(missing)).rejects.toMatchObject({
      reason: BlobProblems.BLOB_NOT_FOUND.reason,
    });
    expect(await store.stat(missing)).toBeNull();
  });

  it('deletes a blob', async () => {
    const { sha256: id } = await store.put(Readable.from([randomBytes(100)]));
    await store.delete(id);
    expect(await store.stat(id)).toBeNull();
    await expect(store.get(id)).rejects.toMatchObject({
      reason: BlobProblems.BLOB_NOT_FOUND.reason,
    });
    // Deleting what is not there is not an error.
    await store.delete(id);
  });

  it.each([
    ['a path', '../../etc/passwd'],
    ['a path of 64 characters', `../../${'a'.repeat(58)}`],
    ['upper-case hex', 'A'.repeat(64)],
    ['too short', 'a'.repeat(63)],
    ['empty', ''],
  ])('refuses %s as a sha256 and touches nothing outside its root', async (_what, bad) => {
    const before = await filesUnder(parent);
    const body = Readable.from([Buffer.from('payload')]);

    await expect(store.put(body, { sha256: bad })).rejects.toMatchObject({
      reason: BlobProblems.SHA256_INVALID.reason,
    });
    await expect(store.get(bad)).rejects.toMatchObject({
      reason: BlobProblems.SHA256_INVALID.reason,
    });
    await expect(store.stat(bad)).rejects.toMatchObject({
      reason: BlobProblems.SHA256_INVALID.reason,
    });
    await expect(store.delete(bad)).rejects.toMatchObject({
      reason: BlobProblems.SHA256_INVALID.reason,
    });
    await expect(store.get(bad, { start: 0, end: 1 })).rejects.toMatchObject({
      reason: BlobProblems.SHA256_INVALID.reason,
    });

    expect(await readdir(parent)).toEqual(['root']);
    expect(await filesUnder(parent)).toEqual(before);
  });

  it('streams a large body through without holding it in memory, with the right hash', async () => {
    const chunkSize = 1024 * 1024;
    const chunks = 64;
    const expected = createHash('sha256');
    let produced = 0;
    // Generated lazily, one MiB at a time, only when the store asks for more.
    const body = new Readable({
      read() {
        if (produced === chunks) {
          this.push(null);
          return;
        }
        const chunk = Buffer.alloc(chunkSize, produced % 251);
        chunk.writeUInt32BE(produced, 0);
        expected.update(chunk);
        produced += 1;
        this.push(chunk);
      },
    });

    const stored = await store.put(body);
    const sha = expected.digest('hex');

    expect(stored).toEqual({ sha256: sha, size: chunks * chunkSize, created: true });
    const readBack = createHash('sha256');
    for await (const chunk of await store.get(sha)) readBack.update(chunk as Buffer);
    expect(readBack.digest('hex')).toBe(sha);
  });
});
