import { z } from 'zod';
import { parseOrThrow } from '@acai/contracts';

const ListQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().min(1).optional(),
});

export function parseListQuery(query: unknown): { limit: number; cursor: string | null } {
  const parsed = parseOrThrow(ListQuerySchema, query ?? {}, 'query');
  return { limit: parsed.limit, cursor: parsed.cursor ?? null };
}

/** Path ids are checked before they reach the bus: a malformed id is simply not found. */
export const ID = /^[a-z]+-[0-9a-z]{23}$/;
