import { describe, expect, it } from '@jest/globals';
import { IdxError, parseImages, parseLabels } from './idx.js';

/** An IDX file: big-endian u32 header fields, then the item bytes. */
function idx(header: number[], items: number[]): Uint8Array {
  const bytes = new Uint8Array(header.length * 4 + items.length);
  const view = new DataView(bytes.buffer);
  header.forEach((value, i) => view.setUint32(i * 4, value));
  bytes.set(items, header.length * 4);
  return bytes;
}

const twoImages = (): Uint8Array =>
  idx([2051, 2, 2, 3], [0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]);

describe('parseImages', () => {
  it('reads the count, the shape and the pixels after the header', () => {
    const images = parseImages(twoImages(), 'images');
    expect({ count: images.count, rows: images.rows, cols: images.cols }).toEqual({
      count: 2,
      rows: 2,
      cols: 3,
    });
    expect([...images.pixels]).toEqual([0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]);
  });

  it('reads the header big-endian', () => {
    // 256 images of 1 × 1: little-endian reading would see a count of 65536.
    const images = parseImages(idx([2051, 256, 1, 1], new Array<number>(256).fill(7)), 'x');
    expect(images.count).toBe(256);
  });

  it('refuses a labels file given as images, naming the magic numbers', () => {
    expect(() => parseImages(idx([2049, 2], [1, 2]), 'train-images-idx3-ubyte')).toThrow(
      'train-images-idx3-ubyte is not an IDX images file (magic 2049, expected 2051)',
    );
  });

  it('refuses a file shorter than its header says', () => {
    const truncated = twoImages().subarray(0, 20);
    expect(() => parseImages(truncated, 'img')).toThrow(/img is truncated/);
  });

  it('refuses trailing bytes', () => {
    const padded = idx([2051, 1, 1, 2], [1, 2, 3]);
    expect(() => parseImages(padded, 'img')).toThrow(/1 bytes after/);
  });

  it('refuses a file too short for a header', () => {
    expect(() => parseImages(new Uint8Array([0, 0, 8, 3, 0, 0]), 'img')).toThrow(IdxError);
    expect(() => parseImages(new Uint8Array([0, 0, 8, 3, 0, 0]), 'img')).toThrow(/shorter than/);
  });

  it('says so when the file is still gzipped', () => {
    expect(() => parseImages(new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]), 'img')).toThrow(
      /gzip-compressed/,
    );
  });

  it('refuses images with no pixels', () => {
    expect(() => parseImages(idx([2051, 0, 0, 28], []), 'img')).toThrow(/0 × 28/);
  });
});

describe('parseLabels', () => {
  it('reads the labels after the 8-byte header', () => {
    const labels = parseLabels(idx([2049, 4], [3, 0, 9, 1]), 'labels', 10);
    expect(labels.count).toBe(4);
    expect([...labels.labels]).toEqual([3, 0, 9, 1]);
  });

  it('refuses an images file given as labels', () => {
    expect(() => parseLabels(twoImages(), 'labels', 10)).toThrow(/magic 2051, expected 2049/);
  });

  it('refuses a label that is not a class, naming the item', () => {
    expect(() => parseLabels(idx([2049, 3], [1, 10, 2]), 'labels', 10)).toThrow(
      'labels: label 10 of item 1 is not a class (expected 0 to 9)',
    );
  });

  it('refuses a count that does not match the length', () => {
    expect(() => parseLabels(idx([2049, 5], [1, 2, 3]), 'labels', 10)).toThrow(/truncated/);
  });
});
