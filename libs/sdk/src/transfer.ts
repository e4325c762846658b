import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AcaiApiError, AcaiProtocolError } from './errors.js';
import { BlobSchema, type AcaiClient } from './client.js';

/** Bytes moved so far of `total` (for progress bars). */
export type OnBytes = (done: number, total: number) => void;

/** Counts and hashes what flows through it. */
function hashing(onChunk: (bytes: number) => void) {
  const hash = createHash('sha256');
  const transform = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      onChunk(chunk.length);
      callback(null, chunk);
    },
  });
  return { transform, digest: () => hash.digest('hex') };
}

/** The sha256 of a local file, read as a stream. */
async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Uploads a file as a blob, streamed (`POST /api/v1/blobs`): its sha256 is computed as it is sent
 * and compared with the one the server computed, so a file that changed while it was read, or a
 * corrupted transfer, is an error rather than a wrong blob.
 */
export async function uploadFile(
  client: AcaiClient,
  file: string,
  onBytes?: OnBytes,
): Promise<{ sha256: string; size: number }> {
  const { size } = await stat(file);
  let digest = () => '';
  let sent = 0;
  const blob = await client.json(BlobSchema, 'uploadBlobHashed', {
    stream: () => {
      sent = 0;
      const h = hashing((n) => {
        sent += n;
        onBytes?.(sent, size);
      });
      digest = h.digest;
      const source = createReadStream(file).pipe(h.transform);
      return {
        body: Readable.toWeb(source) as ReadableStream<Uint8Array>,
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      };
    },
  });
  const local = digest();
  if (blob.sha256 !== local || blob.size !== size) {
    throw new AcaiProtocolError(
      `${file}: the server stored sha256 ${blob.sha256} (${blob.size} bytes) but this file hashed to ${local} (${size} bytes); did it change while it was uploaded? Try again.`,
    );
  }
  return blob;
}

/** Downloads one file of a version to `dest`, streamed, checking its sha256 when it is given. */
export async function downloadFile(
  client: AcaiClient,
  fileset: string,
  ref: string | number,
  filePath: string,
  dest: string,
  expected?: { sha256: string; size: number },
  onBytes?: OnBytes,
): Promise<{ sha256: string; size: number }> {
  const response = await client.send('getFile', {
    params: { name: fileset, ref, path: filePath },
  });
  if (response.body === null) throw new AcaiProtocolError(`${filePath}: the answer has no body`);
  const total = expected?.size ?? Number(response.headers.get('content-length') ?? 0);
  let received = 0;
  const h = hashing((n) => {
    received += n;
    onBytes?.(received, total);
  });
  await mkdir(path.dirname(dest), { recursive: true });
  const partial = `${dest}.acai-partial`;
  try {
    await pipeline(
      Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>),
      h.transform,
      createWriteStream(partial),
    );
    const sha256 = h.digest();
    if (expected !== undefined && sha256 !== expected.sha256) {
      throw new AcaiProtocolError(
        `${filePath}: the downloaded bytes hash to ${sha256}, not ${expected.sha256} as listed; try again`,
      );
    }
    await rename(partial, dest);
    return { sha256, size: received };
  } finally {
    await rm(partial, { force: true });
  }
}

/** A local file to push, and its path in the file set. */
export interface LocalFile {
  readonly file: string;
  readonly path: string;
  readonly size: number;
  /** Its media type in the version (absent: the catalog's guess from its name). */
  readonly mediaType?: string;
}

/** The files under `root` (or `root` itself when it is a file), with their paths relative to it. */
export async function localFiles(root: string): Promise<LocalFile[]> {
  const info = await stat(root);
  if (info.isFile()) return [{ file: root, path: path.basename(root), size: info.size }];
  const out: LocalFile[] = [];
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    out.push({
      file,
      path: path.relative(root, file).split(path.sep).join('/'),
      size: (await stat(file)).size,
    });
  }
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

export interface PushOptions {
  /** The new version's labels and metadata. */
  readonly labels?: string[];
  readonly metadata?: Record<string, unknown>;
  /** The file set's labels, when it is made (it does not exist yet). */
  readonly filesetLabels?: string[];
  /**
   * Commit nothing when the latest version holds exactly these files, even with `labels` or
   * `metadata` given (an import run again); without them, that is always so.
   */
  readonly unlessSame?: boolean;
  /** Keep the parent's files that are not among these (default: the version holds these only). */
  readonly keep?: boolean;
  readonly onFile?: (file: LocalFile, index: number, count: number) => void;
  readonly onBytes?: OnBytes;
}

export type PushResult =
  | { readonly committed: true; readonly version: number; readonly files: number; bytes: number }
  | { readonly committed: false; readonly version: number; readonly files: number; bytes: number };

/**
 * Makes a new version of a file set from local files: creates the file set when it does not
 * exist, uploads each file (streamed and verified), and commits on top of the latest version.
 * Nothing is committed when the latest version already holds exactly these files.
 */
export async function pushFiles(
  client: AcaiClient,
  fileset: string,
  files: readonly LocalFile[],
  options: PushOptions = {},
): Promise<PushResult> {
  let parent = 0;
  try {
    parent = (await client.getFileset(fileset)).latestVersion;
  } catch (error) {
    if (!(error instanceof AcaiApiError && error.status === 404)) throw error;
    await client.createFileset({
      name: fileset,
      ...(options.filesetLabels === undefined ? {} : { labels: options.filesetLabels }),
    });
  }
  const before = new Map<string, string>();
  if (parent > 0)
    for await (const f of client.allFiles(fileset, parent)) before.set(f.path, f.sha256);
  const removed =
    options.keep === true ? [] : [...before.keys()].filter((p) => !files.some((f) => f.path === p));
  const bytes = files.reduce((sum, f) => sum + f.size, 0);
  // Hashed here first: a version that holds these files already costs no upload.
  const bare = options.labels === undefined && options.metadata === undefined;
  if (parent > 0 && removed.length === 0 && (bare || options.unlessSame === true)) {
    let same = true;
    for (const file of files) {
      if (!same) break;
      same = before.get(file.path) === (await sha256Of(file.file));
    }
    if (same) return { committed: false, version: parent, files: files.length, bytes };
  }
  const uploaded: { path: string; sha256: string; size: number; mediaType?: string }[] = [];
  for (const [index, file] of files.entries()) {
    options.onFile?.(file, index, files.length);
    const blob = await uploadFile(client, file.file, options.onBytes);
    uploaded.push({
      path: file.path,
      ...blob,
      ...(file.mediaType === undefined ? {} : { mediaType: file.mediaType }),
    });
  }
  const version = await client.commitVersion(fileset, {
    parent,
    put: uploaded,
    delete: removed,
    ...(options.labels === undefined ? {} : { labels: options.labels }),
    ...(options.metadata === undefined ? {} : { metadata: options.metadata }),
  });
  return {
    committed: true,
    version: version.version,
    files: uploaded.length,
    bytes: uploaded.reduce((sum, f) => sum + f.size, 0),
  };
}

/**
 * Downloads every file of a version (or those under `prefix`) into `dir`, each checked against
 * its listed sha256. A path that would land outside `dir` is refused.
 */
export async function pullFiles(
  client: AcaiClient,
  fileset: string,
  ref: string | number,
  dir: string,
  options: {
    prefix?: string;
    onFile?: (path: string, size: number) => void;
    onBytes?: OnBytes;
  } = {},
): Promise<{ version: number; files: number; bytes: number }> {
  const version = await client.getVersion(fileset, ref);
  const root = path.resolve(dir);
  let files = 0;
  let bytes = 0;
  for await (const entry of client.allFiles(fileset, version.version, options.prefix)) {
    const dest = path.resolve(root, entry.path);
    if (!dest.startsWith(root + path.sep)) {
      throw new AcaiProtocolError(`${entry.path}: this path would be written outside ${dir}`);
    }
    options.onFile?.(entry.path, entry.size);
    await downloadFile(client, fileset, version.version, entry.path, dest, entry, options.onBytes);
    files++;
    bytes += entry.size;
  }
  return { version: version.version, files, bytes };
}
