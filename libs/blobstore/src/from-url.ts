import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BlobStore } from './blob-store.js';
import { LocalBlobStore } from './local-store.js';
import { S3BlobStore, type S3StoreOptions } from './s3-store.js';

/** The environment variable that names the blob store; errors name it so users know what to fix. */
export const BLOB_STORE_VARIABLE = 'ACAI_BLOB_STORE';

const ACCEPTED_FORMS =
  'file:///absolute/path, a plain path (/var/lib/acai/blobs, ./blobs), or ' +
  's3://bucket/optional/prefix with optional query parameters region, endpoint (for S3-compatible ' +
  'servers, e.g. endpoint=http://127.0.0.1:9000), forcePathStyle=true|false and partSizeBytes';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

const S3_PARAMS = [
  'region',
  'endpoint',
  'forcePathStyle',
  'partSizeBytes',
  'accessKeyId',
  'secretAccessKey',
] as const;

/** S3 bucket naming rules (general purpose buckets): 3-63 of a-z 0-9 . - starting and ending alphanumeric. */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export type BlobStoreLocation =
  | { readonly kind: 'local'; readonly root: string }
  | { readonly kind: 's3'; readonly options: S3StoreOptions };

/**
 * Reads a blob store location (the value of ACAI_BLOB_STORE):
 *
 * - `file:///var/lib/acai/blobs` or a plain path (relative paths resolve against the working
 *   directory): blobs on the local file system.
 * - `s3://bucket/prefix?region=eu-west-1`: an S3 bucket, credentials from the SDK's standard chain
 *   (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, an instance role). For an S3-compatible
 *   server add `endpoint=http://127.0.0.1:9000&forcePathStyle=true`; the region then defaults to
 *   us-east-1, which such servers ignore.
 *
 * `accessKeyId` and `secretAccessKey` query parameters are accepted for local S3-compatible test
 * servers (s3rver, MinIO) only: a URL is logged and copied around, so never put real credentials
 * in one.
 */
export function parseBlobStoreUrl(url: string): BlobStoreLocation {
  const value = url.trim();
  if (value === '') throw invalid(url, 'it is empty');
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(value)?.[1]?.toLowerCase();
  if (scheme === undefined) return { kind: 'local', root: path.resolve(value) };
  if (scheme === 'file') {
    try {
      return { kind: 'local', root: fileURLToPath(value) };
    } catch (error) {
      throw invalid(url, `it is not a file URL of this machine (${(error as Error).message})`);
    }
  }
  if (scheme === 's3') return { kind: 's3', options: parseS3(url, value) };
  throw invalid(url, `the scheme '${scheme}:' is not supported`);
}

export function blobStoreFromUrl(url: string): BlobStore {
  const location = parseBlobStoreUrl(url);
  switch (location.kind) {
    case 'local':
      return new LocalBlobStore(location.root);
    case 's3':
      return new S3BlobStore(location.options);
  }
}

function parseS3(raw: string, value: string): S3StoreOptions {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(raw, 'it is not a valid URL');
  }
  if (url.username !== '' || url.password !== '') {
    throw invalid(
      raw,
      'credentials do not belong in the host part; use the AWS environment variables',
    );
  }
  const bucket = url.hostname;
  if (!BUCKET.test(bucket)) {
    throw invalid(
      raw,
      `'${bucket}' is not a bucket name (3-63 lower-case letters, digits, '.' and '-')`,
    );
  }
  if (url.hash !== '') throw invalid(raw, 'it has a #fragment');
  let prefix: string;
  try {
    prefix = decodeURIComponent(url.pathname).replace(/^\/+/, '');
  } catch {
    throw invalid(raw, `the prefix '${url.pathname}' is not validly %-encoded`);
  }

  const params = url.searchParams;
  for (const name of new Set(params.keys())) {
    if (!(S3_PARAMS as readonly string[]).includes(name)) {
      throw invalid(raw, `unknown parameter '${name}' (known: ${S3_PARAMS.join(', ')})`);
    }
    if (params.getAll(name).length > 1)
      throw invalid(raw, `the parameter '${name}' is given twice`);
  }
  const param = (name: (typeof S3_PARAMS)[number]): string | undefined =>
    params.get(name) ?? undefined;

  const endpoint = param('endpoint');
  if (endpoint !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(endpoint);
    } catch {
      throw invalid(raw, `endpoint '${endpoint}' is not a URL`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw invalid(raw, `endpoint '${endpoint}' is not an http(s) URL`);
    }
    if (parsed.username !== '' || parsed.password !== '') {
      throw invalid(raw, 'the endpoint must not carry credentials');
    }
  }

  const region = param('region') ?? (endpoint === undefined ? undefined : 'us-east-1');
  if (region !== undefined && !/^[a-z0-9-]+$/.test(region)) {
    throw invalid(raw, `'${region}' is not a region name`);
  }

  const pathStyle = param('forcePathStyle');
  if (pathStyle !== undefined && pathStyle !== 'true' && pathStyle !== 'false') {
    throw invalid(raw, `forcePathStyle must be true or false, not '${pathStyle}'`);
  }

  const partSize = param('partSizeBytes');
  if (
    partSize !== undefined &&
    (!/^[0-9]+$/.test(partSize) || Number(partSize) < 5 * MiB || Number(partSize) > 5 * GiB)
  ) {
    throw invalid(
      raw,
      `partSizeBytes must be a part size from 5 MiB to 5 GiB in bytes, not '${partSize}'`,
    );
  }

  const accessKeyId = param('accessKeyId');
  const secretAccessKey = param('secretAccessKey');
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw invalid(raw, 'give both accessKeyId and secretAccessKey, or neither');
  }

  return {
    bucket,
    prefix,
    ...(region === undefined ? {} : { region }),
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(pathStyle === undefined ? {} : { forcePathStyle: pathStyle === 'true' }),
    ...(partSize === undefined ? {} : { partSizeBytes: Number(partSize) }),
    ...(accessKeyId === undefined || secretAccessKey === undefined
      ? {}
      : { credentials: { accessKeyId, secretAccessKey } }),
  };
}

function invalid(raw: string, reason: string): Error {
  return new Error(
    `${BLOB_STORE_VARIABLE}='${redact(raw)}' is not a blob store location: ${reason}. ` +
      `Accepted forms: ${ACCEPTED_FORMS}.`,
  );
}

/** Never echo a secret back into a log. */
function redact(raw: string): string {
  return raw
    .replace(/(secretAccessKey=)[^&#]*/gi, '$1***')
    .replace(/(\/\/[^/:@]*:)[^/@]*@/, '$1***@');
}
