import { defineProblems, ErrorCode } from '../errors.js';

/** Problems of lineage and impact questions (provenance). */
export const LineageProblems = defineProblems('lineage', {
  LINEAGE_START_NOT_FOUND: {
    code: ErrorCode.NotFound,
    title: 'No such file set version or job in the lineage of this project',
  },
  LINEAGE_CURSOR_INVALID: {
    code: ErrorCode.ValidationFailed,
    title: 'The cursor is not one this query gave; pass `nextCursor` as it came',
  },
});
