/** One byte range of a file, inclusive at both ends. */
export interface Range {
  readonly start: number;
  readonly end: number;
}

/**
 * Reads a `Range: bytes=...` header for a file of `size` bytes. Answers the range to send,
 * 'unsatisfiable' (416), or undefined to send the whole file (no header, or a form we do not
 * serve, such as several ranges, which RFC 9110 lets a server ignore).
 */
export function parseRange(
  header: string | undefined,
  size: number,
): Range | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null) return undefined;
  const [, from, to] = match as unknown as [string, string, string];
  if (from === '' && to === '') return undefined;
  if (from === '') {
    // The last N bytes.
    const n = Number(to);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(from);
  const end = to === '' ? size - 1 : Math.min(Number(to), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}
