import { describe, expect, it } from '@jest/globals';
import { FilePathSchema, FilesetNameSchema, LabelSchema, MediaTypeSchema } from './names.js';

describe('FilesetNameSchema', () => {
  it.each(['mnist', 'MNIST-v2_train', '0day', 'a', 'a'.repeat(100)])('accepts %j', (name) => {
    expect(FilesetNameSchema.parse(name)).toBe(name);
  });

  it.each([
    ['empty', ''],
    ['starting with -', '-mnist'],
    ['starting with _', '_mnist'],
    ['with a space', 'my data'],
    ['with a dot', 'mnist.v2'],
    ['with a /', 'team/mnist'],
    ['with a non-ASCII letter', 'données'],
    ['with a trailing newline', 'mnist\n'],
    ['of 101 characters', 'a'.repeat(101)],
  ])('refuses a name %s, saying what a name is', (_form, name) => {
    const result = FilesetNameSchema.safeParse(name);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toContain("1-100 letters, digits, '_' and '-'");
  });
});

describe('LabelSchema', () => {
  it.each(['prod', 'v1.2', 'team:ml', 'a=b', 'x/y', 'candidate-2'])('accepts %j', (label) => {
    expect(LabelSchema.parse(label)).toBe(label);
  });

  it.each([
    ['a number (it names a version)', '42'],
    ['latest', 'latest'],
    ['empty', ''],
    ['a space', 'a b'],
    ['64 characters', 'a'.repeat(64)],
  ])('refuses %s', (_form, label) => {
    expect(LabelSchema.safeParse(label).success).toBe(false);
  });
});

describe('FilePathSchema', () => {
  it('gives the path rule as the message', () => {
    const result = FilePathSchema.safeParse('a/../b');
    expect(result.error?.issues[0]?.message).toBe("a path must not contain '.' or '..' segments");
    expect(FilePathSchema.parse('data/train.csv')).toBe('data/train.csv');
  });
});

describe('MediaTypeSchema', () => {
  it.each([
    'text/csv',
    'application/vnd.apache.parquet',
    'image/svg+xml',
    'text/plain; charset=utf-8',
    'text/plain;charset="utf-8"',
    'multipart/mixed; boundary="a b"',
    'application/x-npy',
  ])('accepts %j', (type) => {
    expect(MediaTypeSchema.parse(type)).toBe(type);
  });

  it.each([
    ['empty', ''],
    ['without a subtype', 'text'],
    ['with a header after it', 'text/plain\r\nSet-Cookie: k=v'],
    ['with a newline', 'text/plain\n'],
    ['with a space in the type', 'text /plain'],
    ['with a parameter without a value', 'text/plain; charset'],
    ['with an unclosed quote', 'text/plain; charset="utf-8'],
    ['of 256 characters', `text/${'a'.repeat(251)}`],
  ])('refuses a media type %s, saying what one looks like', (_form, type) => {
    const result = MediaTypeSchema.safeParse(type);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toMatch(/media type/);
  });
});
