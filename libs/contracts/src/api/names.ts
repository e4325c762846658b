import { z } from 'zod';

/**
 * The rules for names users choose (file sets, labels, paths inside a version), as zod schemas:
 * every entry point (REST body, path parameter, bus command) checks them the same way, and the
 * OpenAPI document shows them.
 */

/** A file set name: also its id in subjects, so letters, digits, '_' and '-' only. */
export const FILESET_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;

export const FilesetNameSchema = z
  .string()
  .regex(
    FILESET_NAME,
    "a file set name is 1-100 letters, digits, '_' and '-', starting with a letter or digit",
  )
  .describe('File set name: 1-100 letters, digits, `_` and `-`, starting with a letter or digit');

/**
 * A label: 1-63 characters from letters, digits and `_ . : = / -`, starting with a letter or digit;
 * not a number and not `latest`, which name versions.
 */
export const LABEL = /^(?!\d+$|latest$)[A-Za-z0-9][A-Za-z0-9_.:=/-]{0,62}$/;

export const LabelSchema = z
  .string()
  .regex(
    LABEL,
    "a label is 1-63 letters, digits and _ . : = / -, starting with a letter or digit, and neither a number nor 'latest'",
  );

export const LabelsSchema = z.array(LabelSchema).max(256, { error: 'at most 256 labels' });

/** Why a path inside a file set is not acceptable, or undefined when it is. */
export function pathProblem(path: string): string | undefined {
  if (path.length === 0) return 'a path must not be empty';
  if (new TextEncoder().encode(path).length > 1024) return 'a path must be at most 1024 bytes';
  if (path.startsWith('/')) return 'a path must be relative (no leading /)';
  if (path.includes('\\')) return "use '/' to separate folders, not '\\'";
  if (/[\u0000-\u001f\u007f-\u009f]/.test(path))
    return 'a path must not contain NUL or control characters';
  for (const segment of path.split('/')) {
    if (segment === '') return 'a path must not contain empty segments (// or a trailing /)';
    if (segment === '.' || segment === '..') return "a path must not contain '.' or '..' segments";
  }
  return undefined;
}

/** A path inside a file set: relative, '/'-separated, no '.', '..' or empty segments. */
export const FilePathSchema = z
  .string()
  .superRefine((path, ctx) => {
    const problem = pathProblem(path);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  })
  .describe(
    "A path inside a file set: relative, '/'-separated, no empty, '.' or '..' segments, no backslash or control characters, at most 1024 bytes",
  );

/** A version number, `latest`, or a label such as `prod`. */
export const VersionRefSchema = z
  .union([z.number().int().positive(), z.string().min(1).max(63)])
  .describe('A version number, `latest`, or a label such as `prod`');

export const Sha256Schema = z
  .string()
  .regex(/^[0-9a-f]{64}$/, 'expected a sha256: 64 lower-case hex digits');

/**
 * A media type as RFC 6838 and RFC 9110 write it: `type/subtype` from the token characters, with
 * optional `; name=value` parameters (a value a token or a quoted string), at most 255 characters,
 * no control characters (it becomes a `Content-Type` header when the file is downloaded).
 */
export const MEDIA_TYPE =
  /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}(?:[ \t]*;[ \t]*[A-Za-z0-9!#$%&'*+.^_`|~-]+=(?:[A-Za-z0-9!#$%&'*+.^_`|~-]+|"(?:[^"\\\u0000-\u001f\u007f]|\\[^\u0000-\u001f\u007f])*"))*$/;

export const MediaTypeSchema = z
  .string()
  .max(255, { error: 'a media type is at most 255 characters' })
  .regex(
    MEDIA_TYPE,
    "a media type is 'type/subtype' with optional '; name=value' parameters, e.g. 'text/csv' or 'text/plain; charset=utf-8'",
  )
  .describe('Media type (RFC 6838), e.g. `text/csv` or `text/plain; charset=utf-8`');
