import { describe, expect, it } from '@jest/globals';
import { DEFAULT_RETRY, parseRetryAfter, retryDelayMs } from './retry.js';

describe('retry delays', () => {
  const now = Date.parse('2026-12-05T01:00:00Z');

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('0.5', now)).toBe(500);
    expect(parseRetryAfter('Sat, 05 Dec 2026 01:00:07 GMT', now)).toBe(7000);
    expect(parseRetryAfter('Sat, 05 Dec 2026 00:59:00 GMT', now)).toBe(0);
    expect(parseRetryAfter(null, now)).toBeNull();
    expect(parseRetryAfter('soon', now)).toBeNull();
  });

  it('waits what the server asks, never more than the bound, else backs off exponentially', () => {
    expect(retryDelayMs(DEFAULT_RETRY, 0, '2', now)).toBe(2000);
    expect(retryDelayMs(DEFAULT_RETRY, 0, '3600', now)).toBe(DEFAULT_RETRY.maxDelayMs);
    expect(retryDelayMs(DEFAULT_RETRY, 0, null, now)).toBe(250);
    expect(retryDelayMs(DEFAULT_RETRY, 3, null, now)).toBe(2000);
    expect(retryDelayMs({ ...DEFAULT_RETRY, maxDelayMs: 1000 }, 10, null, now)).toBe(1000);
  });
});
