import { AcaiError, FilesetProblems, pathProblem } from '@acai/contracts';

/**
 * Checks a path inside a file set (the rules of `FilePathSchema` in the contracts): relative,
 * '/'-separated, no empty, '.' or '..' segments, no backslash, no NUL or other control characters,
 * at most 1024 bytes. Returns it unchanged.
 */
export function checkPath(path: string, field = 'path'): string {
  const problem = pathProblem(path);
  if (problem !== undefined) {
    throw new AcaiError(
      FilesetProblems.PATH_INVALID,
      `Invalid ${field} '${printable(path)}': ${problem}`,
      [{ path: field, message: problem }],
    );
  }
  return path;
}

function printable(path: string): string {
  return path.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?').slice(0, 200);
}
