import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { link, mkdir, open, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
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

/**
 * Blobs on the local file system: `<root>/sha256/ab/cd/<sha256>`. An upload streams to
 * `<root>/tmp/<uuid>` while it is hashed, and is linked into place only once verified, so a
 * reader never sees a partial blob. Every path is built from a checked sha256 or a uuid: nothing
 * is ever written outside the root.
 */
export class LocalBlobStore implements BlobStore {
  readonly description: string;
  private readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
    this.description = `local:${this.root}`;
  }

  async put(body: Readable, expect: PutExpectations = {}): Promise<StoredBlob> {
    if (expect.sha256 !== undefined) assertSha256(expect.sha256);
    const tmpDir = path.join(this.root, 'tmp');
    await mkdir(tmpDir, { recursive: true });
    const tmp = path.join(tmpDir, randomUUID());
    const counter = new HashingCounter(expect.maxBytes);
    try {
      // flush: the bytes are on disk before the blob becomes visible under its name.
      await pipeline(
        body,
        counter,
        createWriteStream(tmp, { flags: 'wx', flush: true, highWaterMark: 1024 * 1024 }),
      );
      const sha256 = counter.digest();
      if (expect.sha256 !== undefined && expect.sha256 !== sha256)
        throw checksumMismatch(expect.sha256, sha256);
      const final = this.pathOf(sha256);
      await mkdir(path.dirname(final), { recursive: true });
      let created = true;
      try {
        // link() fails if the blob exists: content addressing makes that a duplicate, not a clash.
        await link(tmp, final);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        created = false;
      }
      return { sha256, size: counter.byteCount, created };
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  async stat(sha256: string): Promise<{ size: number } | null> {
    try {
      const s = await stat(this.pathOf(assertSha256(sha256)));
      return { size: s.size };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async get(sha256: string, range?: ByteRange): Promise<Readable> {
    const file = this.pathOf(assertSha256(sha256));
    if (range !== undefined) assertRange(range);
    let handle;
    try {
      // Opened before anything is sent: a blob deleted meanwhile is NOT_FOUND, not a broken stream.
      handle = await open(file, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw blobNotFound(sha256);
      throw error;
    }
    // 1 MiB reads: a large download costs far fewer reads and socket writes than the 64 KiB default.
    const chunks = { highWaterMark: 1024 * 1024 };
    return handle.createReadStream(
      range === undefined ? chunks : { ...chunks, start: range.start, end: range.end },
    );
  }

  async delete(sha256: string): Promise<void> {
    await rm(this.pathOf(assertSha256(sha256)), { force: true });
  }

  localPath(sha256: string): string {
    return this.pathOf(assertSha256(sha256));
  }

  private pathOf(sha256: string): string {
    return path.join(this.root, 'sha256', sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }
}
