import { describe, expect, it } from '@jest/globals';
import { AcaiError } from '@acai/contracts';
import { bodyOf, MAX_JSON_DEPTH, Routes } from './routes.js';

/** `{ "a": { "a": … 1 } }`, `depth` objects deep. */
function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = { a: 1 };
  for (let i = 1; i < depth; i++) value = { a: value };
  return value;
}

describe('JSON bodies at the edge', () => {
  it(`takes nesting ${MAX_JSON_DEPTH} levels deep, and refuses deeper with a 400 before walking it`, () => {
    // The body is one level, its metadata the rest.
    const fileset = (depth: number) => ({ name: 'deep', metadata: nested(depth - 1) });
    expect(bodyOf(Routes.createFileset, fileset(MAX_JSON_DEPTH), 'file set').name).toBe('deep');

    for (const depth of [MAX_JSON_DEPTH + 1, 5_000]) {
      const refuse = () => bodyOf(Routes.createFileset, fileset(depth), 'file set');
      expect(refuse).toThrow(AcaiError);
      expect(refuse).toThrow(
        `The file set nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep; flatten it`,
      );
    }
    // Arrays count as much as objects.
    let deepArray: unknown[] = [];
    for (let i = 0; i < 10_000; i++) deepArray = [deepArray];
    expect(() =>
      bodyOf(Routes.changeMetadata, { op: 'set', value: { a: deepArray } }, 'metadata change'),
    ).toThrow(AcaiError);
  });
});
