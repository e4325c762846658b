import { describe, expect, it } from '@jest/globals';
import { FilePathSchema, FilesetNameSchema, LabelSchema } from './names.js';

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
