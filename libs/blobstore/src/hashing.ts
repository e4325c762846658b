import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { tooLarge } from './blob-store.js';

/** Passes bytes through while hashing and counting them; fails past `maxBytes`. */
export class HashingCounter extends Transform {
  private readonly hash: Hash = createHash('sha256');
  /** Bytes seen so far. (Not `size`: lib-storage would read that as the body's length.) */
  byteCount = 0;

  constructor(private readonly maxBytes = Number.POSITIVE_INFINITY) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.byteCount += chunk.length;
    if (this.byteCount > this.maxBytes) {
      done(tooLarge(this.maxBytes));
      return;
    }
    this.hash.update(chunk);
    done(null, chunk);
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}
