import { Readable } from 'node:stream';
import type { BlobStore } from './blob-store.js';

/** Change lists larger than this travel to the catalog as a blob (a NATS message is at most 1 MiB). */
export const INLINE_CHANGES_BYTES = 256 * 1024;

/**
 * A commit's change list as it goes on the bus: inline when small, otherwise stored as a JSON
 * blob `{ put, delete }` and sent by reference (`changesSha256`), for commits of thousands of files.
 */
export async function commitChanges<P>(
  store: BlobStore,
  put: P[],
  remove: string[],
): Promise<{ put: P[]; delete: string[]; changesSha256?: string }> {
  const json = JSON.stringify({ put, delete: remove });
  if (json.length <= INLINE_CHANGES_BYTES) return { put, delete: remove };
  const { sha256 } = await store.put(Readable.from([Buffer.from(json)]));
  return { put: [], delete: [], changesSha256: sha256 };
}
