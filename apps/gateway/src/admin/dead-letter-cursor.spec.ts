import { describe, expect, it } from '@jest/globals';
import { AcaiError } from '@acai/contracts';
import { decodeCursor, encodeCursor } from './dead-letter-cursor.js';

describe('dead-letter cursors', () => {
  const cursor = {
    createdAt: '2026-12-03T13:42:07.123456Z',
    id: '6f1c1d2e-3b4a-4c5d-8e6f-7a8b9c0d1e2f',
  };

  it('come back as they were given', () => {
    const text = encodeCursor(cursor);
    expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(text)).toEqual(cursor);
  });

  it.each([
    ['not base64 JSON', '%%%'],
    ['JSON of something else', Buffer.from('{"a":1}').toString('base64url')],
    ['a time without microseconds', encodeCursor({ ...cursor, createdAt: '2026-12-03T13:42:07Z' })],
    ['an id that is no uuid', encodeCursor({ ...cursor, id: "x' OR 1=1" })],
  ])('refuse %s with a 400 naming the cursor', (_, text) => {
    let refusal: unknown;
    try {
      decodeCursor(text);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(AcaiError);
    expect((refusal as AcaiError).reason).toBe('INVALID_REQUEST');
    expect((refusal as AcaiError).details).toEqual([
      { path: 'cursor', message: 'not a cursor of this listing' },
    ]);
  });
});
