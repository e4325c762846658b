import { AcaiError, LINEAGE_MAX_DEPTH, LineageProblems } from '@acai/contracts';

/** Where a page of a walk ends: the order key (depth or level, then id) of its last node. */
export interface LineagePosition {
  readonly rank: number;
  readonly id: string;
}

/** The opaque `nextCursor` of a page that ends at `position`. */
export function encodeCursor(position: LineagePosition): string {
  return Buffer.from(JSON.stringify([position.rank, position.id]), 'utf8').toString('base64url');
}

/** The position a cursor stands for; a cursor no page gave is refused, naming `cursor`. */
export function decodeCursor(cursor: string): LineagePosition {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 2 ||
    !Number.isInteger(parsed[0]) ||
    (parsed[0] as number) < 1 ||
    // Ranks are depths and levels, never beyond the cap; Postgres refuses a NUL in text.
    (parsed[0] as number) > LINEAGE_MAX_DEPTH ||
    typeof parsed[1] !== 'string' ||
    parsed[1].includes('\u0000')
  ) {
    throw new AcaiError(
      LineageProblems.LINEAGE_CURSOR_INVALID,
      'Invalid query: cursor: not a cursor this query gave; pass nextCursor as it came',
      [{ path: 'cursor', message: 'not a cursor this query gave' }],
    );
  }
  return { rank: parsed[0] as number, id: parsed[1] };
}
