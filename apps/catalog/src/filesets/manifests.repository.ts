import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import type { BlobStore } from '@acai/blobstore';
import { parseManifest, serializeManifest, type Manifest } from '@acai/filesets';

export interface EncodedManifest {
  readonly bytes: Buffer;
  readonly sha256: string;
}

/**
 * Manifests are blobs too: canonical JSON, stored once by their sha256 like any file. Parsed ones
 * are cached, since a manifest never changes.
 */
export class ManifestsRepository {
  private readonly cache = new Map<string, Manifest>();

  constructor(
    private readonly blobs: BlobStore,
    private readonly maxCached = 256,
  ) {}

  /** The manifest's canonical bytes and the sha256 it will be stored under. */
  encode(manifest: Manifest): EncodedManifest {
    const bytes = Buffer.from(serializeManifest(manifest));
    return { bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
  }

  async save(manifest: Manifest, encoded = this.encode(manifest)): Promise<string> {
    const { sha256 } = await this.blobs.put(Readable.from([encoded.bytes]), {
      sha256: encoded.sha256,
    });
    this.remember(sha256, manifest);
    return sha256;
  }

  async load(sha256: string): Promise<Manifest> {
    const hit = this.cache.get(sha256);
    if (hit !== undefined) return hit;
    const manifest = parseManifest(await text(await this.blobs.get(sha256)));
    this.remember(sha256, manifest);
    return manifest;
  }

  private remember(sha256: string, manifest: Manifest): void {
    this.cache.set(sha256, manifest);
    if (this.cache.size > this.maxCached) this.cache.delete(this.cache.keys().next().value!);
  }
}
