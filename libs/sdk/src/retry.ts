/** How the client retries a request the server refused for now (429, 503) or could not take. */
export interface RetryPolicy {
  /** Attempts after the first (default 4). */
  readonly retries: number;
  /** The wait when the server gives no `Retry-After`, doubled each attempt (default 250 ms). */
  readonly baseDelayMs: number;
  /** The longest single wait, whatever `Retry-After` asks (default 30 s). */
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 4, baseDelayMs: 250, maxDelayMs: 30_000 };

/** Whether a response with this status is worth sending again as it is. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 503;
}

/**
 * The wait before attempt `attempt + 1` (attempt counts from 0): the server's `Retry-After`
 * (seconds, or an HTTP date) when it gave one, else exponential backoff; never over `maxDelayMs`.
 */
export function retryDelayMs(
  policy: RetryPolicy,
  attempt: number,
  retryAfter: string | null,
  now: number = Date.now(),
): number {
  const asked = parseRetryAfter(retryAfter, now);
  const wait = asked ?? policy.baseDelayMs * 2 ** attempt;
  return Math.min(Math.max(0, wait), policy.maxDelayMs);
}

/** `Retry-After` in milliseconds: delta-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (value === null || value.trim() === '') return null;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}
