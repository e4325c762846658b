import type { z } from 'zod';
import { AcaiError, type ErrorDetail, type Problem } from './errors.js';
import { CommonProblems } from './problems/common.js';

/** Turns zod issues into details that name the field, e.g. `steps.0.command: Required`. */
export function issuesToDetails(error: z.ZodError): ErrorDetail[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    return path === '' ? { message: issue.message } : { path, message: issue.message };
  });
}

/**
 * Parses untrusted input at an edge; a failure is the given problem (`INVALID_REQUEST` unless
 * said otherwise), naming each bad field.
 */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  input: unknown,
  what: string,
  problem: Problem = CommonProblems.INVALID_REQUEST,
): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const details = issuesToDetails(result.error);
  const first = details[0];
  const summary =
    first === undefined ? '' : `: ${first.path ? `${first.path}: ` : ''}${first.message}`;
  throw new AcaiError(problem, `Invalid ${what}${summary}`, details);
}
