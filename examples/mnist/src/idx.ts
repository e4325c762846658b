// The IDX format of the MNIST files (http://yann.lecun.com/exdb/mnist/): a big-endian header,
// then the items as unsigned bytes. Images: magic 2051, count, rows, cols. Labels: magic 2049,
// count.

export const IMAGES_MAGIC = 2051;
export const LABELS_MAGIC = 2049;
const IMAGES_HEADER_BYTES = 16;
const LABELS_HEADER_BYTES = 8;

/** The file is not the IDX file it should be; the message says what is wrong and where. */
export class IdxError extends Error {
  override readonly name = 'IdxError';
}

export interface IdxImages {
  readonly count: number;
  readonly rows: number;
  readonly cols: number;
  /** count × rows × cols bytes, row-major, 0 = background; a view of the file's bytes. */
  readonly pixels: Uint8Array;
}

export interface IdxLabels {
  readonly count: number;
  /** One class per item; a view of the file's bytes. */
  readonly labels: Uint8Array;
}

/** Reads an images file (magic 2051), checking the header against the file's length. */
export function parseImages(bytes: Uint8Array, name: string): IdxImages {
  checkMagic(bytes, IMAGES_HEADER_BYTES, IMAGES_MAGIC, 'images', name);
  const header = new DataView(bytes.buffer, bytes.byteOffset, IMAGES_HEADER_BYTES);
  const count = header.getUint32(4);
  const rows = header.getUint32(8);
  const cols = header.getUint32(12);
  if (rows === 0 || cols === 0) throw new IdxError(`${name}: images of ${rows} × ${cols} pixels`);
  const size = count * rows * cols;
  checkLength(bytes, IMAGES_HEADER_BYTES + size, `${count} images of ${rows} × ${cols}`, name);
  return {
    count,
    rows,
    cols,
    pixels: bytes.subarray(IMAGES_HEADER_BYTES, IMAGES_HEADER_BYTES + size),
  };
}

/** Reads a labels file (magic 2049), checking its length and that every label is < classes. */
export function parseLabels(bytes: Uint8Array, name: string, classes: number): IdxLabels {
  checkMagic(bytes, LABELS_HEADER_BYTES, LABELS_MAGIC, 'labels', name);
  const count = new DataView(bytes.buffer, bytes.byteOffset, LABELS_HEADER_BYTES).getUint32(4);
  checkLength(bytes, LABELS_HEADER_BYTES + count, `${count} labels`, name);
  const labels = bytes.subarray(LABELS_HEADER_BYTES, LABELS_HEADER_BYTES + count);
  const bad = labels.findIndex((label) => label >= classes);
  if (bad >= 0) {
    throw new IdxError(
      `${name}: label ${labels[bad]} of item ${bad} is not a class (expected 0 to ${classes - 1})`,
    );
  }
  return { count, labels };
}

function checkMagic(
  bytes: Uint8Array,
  headerBytes: number,
  magic: number,
  kind: string,
  name: string,
): void {
  if (bytes.byteLength >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    throw new IdxError(`${name} is gzip-compressed; decompress it first (gunzip ${name})`);
  }
  // The magic first: a file of the wrong kind deserves that message, not one about its length.
  if (bytes.byteLength >= 4) {
    const found = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
    if (found !== magic)
      throw new IdxError(`${name} is not an IDX ${kind} file (magic ${found}, expected ${magic})`);
  }
  if (bytes.byteLength < headerBytes) {
    throw new IdxError(
      `${name} is ${bytes.byteLength} bytes, shorter than an IDX ${kind} header (${headerBytes})`,
    );
  }
}

function checkLength(bytes: Uint8Array, expected: number, what: string, name: string): void {
  if (bytes.byteLength < expected) {
    throw new IdxError(
      `${name} is truncated: its header announces ${what} (${expected} bytes) but it has ${bytes.byteLength}`,
    );
  }
  if (bytes.byteLength > expected) {
    throw new IdxError(
      `${name} has ${bytes.byteLength - expected} bytes after the ${what} its header announces`,
    );
  }
}
