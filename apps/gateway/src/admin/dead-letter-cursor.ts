import {
  AcaiError,
  CommonProblems,
  DeadLetterCursorSchema,
  type DeadLetterCursor,
} from '@acai/contracts';

/** A page's `nextCursor`: where the next one starts (the last letter shown), opaque to clients. */
export function encodeCursor(cursor: DeadLetterCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.id])).toString('base64url');
}

/** The cursor a client sent back; 400 for anything a listing did not give. */
export function decodeCursor(text: string): DeadLetterCursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const [createdAt, id] = Array.isArray(parsed) ? (parsed as unknown[]) : [];
  const cursor = DeadLetterCursorSchema.safeParse({ createdAt, id });
  if (!cursor.success) {
    throw new AcaiError(
      CommonProblems.INVALID_REQUEST,
      'The cursor is not one this listing gave: pass `nextCursor` of the previous page as it is',
      [{ path: 'cursor', message: 'not a cursor of this listing' }],
    );
  }
  return cursor.data;
}
