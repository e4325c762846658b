import { AcaiError, FilesetProblems } from '@acai/contracts';
import { checkPath } from './paths.js';

export interface ManifestEntry {
  readonly sha256: string;
  readonly size: number;
  readonly mediaType: string;
}

/** path → file, the content of one version. Serialised sorted by path, so equal manifests hash equal. */
export type Manifest = ReadonlyMap<string, ManifestEntry>;

export interface Changes {
  readonly put: readonly ({ path: string } & ManifestEntry)[];
  readonly delete: readonly string[];
}

export interface AppliedChanges {
  readonly manifest: Manifest;
  readonly added: number;
  readonly replaced: number;
  readonly deleted: number;
}

/**
 * Applies a commit's changes to its parent's manifest. A path may appear once per commit; deleting
 * a path that is not there is an error (it usually means the wrong parent).
 */
export function applyChanges(parent: Manifest, changes: Changes): AppliedChanges {
  const seen = new Set<string>();
  const twice = (path: string, field: string) => {
    if (seen.has(path)) {
      throw new AcaiError(
        FilesetProblems.PATH_DUPLICATE,
        `'${path}' appears more than once in this commit`,
        [{ path: field, message: 'path given twice' }],
      );
    }
    seen.add(path);
  };
  const next = new Map(parent);
  let added = 0;
  let replaced = 0;
  let deleted = 0;
  changes.delete.forEach((path, i) => {
    checkPath(path, `delete.${i}`);
    twice(path, `delete.${i}`);
    if (!next.delete(path)) {
      throw new AcaiError(
        FilesetProblems.DELETE_MISSING_FILE,
        `Cannot delete '${path}': the parent version has no such file`,
        [{ path: `delete.${i}`, message: 'no such file in the parent version' }],
      );
    }
    deleted++;
  });
  changes.put.forEach((file, i) => {
    checkPath(file.path, `put.${i}.path`);
    twice(file.path, `put.${i}.path`);
    if (next.has(file.path)) replaced++;
    else added++;
    next.set(file.path, { sha256: file.sha256, size: file.size, mediaType: file.mediaType });
  });
  return { manifest: next, added, replaced, deleted };
}

export function manifestBytes(manifest: Manifest): number {
  let total = 0;
  for (const entry of manifest.values()) total += entry.size;
  return total;
}

/** Canonical JSON: `{ "files": [[path, sha256, size, mediaType], ...] }` sorted by path. */
export function serializeManifest(manifest: Manifest): string {
  const files = [...manifest.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([path, e]) => [path, e.sha256, e.size, e.mediaType]);
  return JSON.stringify({ files });
}

export function parseManifest(text: string): Manifest {
  const parsed = JSON.parse(text) as { files?: unknown };
  if (!Array.isArray(parsed.files)) throw new Error('not a manifest: no "files" array');
  const manifest = new Map<string, ManifestEntry>();
  for (const row of parsed.files as unknown[]) {
    if (!Array.isArray(row) || row.length !== 4)
      throw new Error('not a manifest: a row is not [path, sha256, size, mediaType]');
    const [path, sha256, size, mediaType] = row as [unknown, unknown, unknown, unknown];
    if (
      typeof path !== 'string' ||
      typeof sha256 !== 'string' ||
      typeof size !== 'number' ||
      typeof mediaType !== 'string'
    ) {
      throw new Error('not a manifest: a row has the wrong types');
    }
    manifest.set(path, { sha256, size, mediaType });
  }
  return manifest;
}

export interface ManifestDiff {
  readonly added: string[];
  readonly removed: string[];
  readonly changed: string[];
}

/** What changed from `from` to `to`, each list sorted by path. */
export function diffManifests(from: Manifest, to: Manifest): ManifestDiff {
  const added: string[] = [];
  const removed: string[] = [];
  const changed: string[] = [];
  for (const [path, entry] of to) {
    const before = from.get(path);
    if (before === undefined) added.push(path);
    else if (before.sha256 !== entry.sha256) changed.push(path);
  }
  for (const path of from.keys()) if (!to.has(path)) removed.push(path);
  return { added: added.sort(), removed: removed.sort(), changed: changed.sort() };
}

/** A guess at a file's media type from its name; clients may state their own. */
export function mediaTypeOf(path: string): string {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return 'application/octet-stream';
  const ext = name.slice(dot + 1).toLowerCase();
  const known: Record<string, string> = {
    json: 'application/json',
    csv: 'text/csv',
    txt: 'text/plain',
    md: 'text/markdown',
    gz: 'application/gzip',
    tar: 'application/x-tar',
    npy: 'application/x-npy',
    parquet: 'application/vnd.apache.parquet',
    png: 'image/png',
    jpg: 'image/jpeg',
    jpeg: 'image/jpeg',
  };
  return known[ext] ?? 'application/octet-stream';
}
