import { describe, expect, it } from '@jest/globals';
import { readableJson } from './json.js';

describe('readableJson', () => {
  it('puts lists of numbers on one line and keeps everything else indented', () => {
    const value = {
      rows: [
        [1, 2],
        [-3, 4.5e-7],
      ],
      names: ['a', 'b'],
      n: 1,
    };
    expect(readableJson(value)).toBe(
      '{\n  "rows": [\n    [1, 2],\n    [-3, 4.5e-7]\n  ],\n  "names": [\n    "a",\n    "b"\n  ],\n  "n": 1\n}\n',
    );
    expect(JSON.parse(readableJson(value))).toEqual(value);
  });
});
