import { AcaiError, ErrorCode } from '@acai/contracts';

/**
 * Checks a path inside a file set: relative, '/'-separated, no empty, '.' or '..' segments, no
 * backslash, no NUL or other control characters, at most 1024 bytes. Returns it unchanged.
 */
export function checkPath(path: string, field = 'path'): string {
  const problem = pathProblem(path);
  if (problem !== undefined) {
    throw new AcaiError(
      ErrorCode.ValidationFailed,
      `Invalid ${field} '${printable(path)}': ${problem}`,
      [{ path: field, message: problem }],
    );
  }
  return path;
}

export function pathProblem(path: string): string | undefined {
  if (path.length === 0) return 'a path must not be empty';
  if (Buffer.byteLength(path) > 1024) return 'a path must be at most 1024 bytes';
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

function printable(path: string): string {
  return path.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?').slice(0, 200);
}

/** A file set name: also its id in subjects, so letters, digits, '_' and '-' only. */
export const FILESET_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;

export function checkFilesetName(name: string): string {
  if (!FILESET_NAME.test(name)) {
    throw new AcaiError(
      ErrorCode.ValidationFailed,
      `Invalid file set name '${printable(name)}': use 1-100 letters, digits, '_' and '-', starting with a letter or digit`,
      [{ path: 'name', message: 'expected 1-100 letters, digits, _ and -' }],
    );
  }
  return name;
}
