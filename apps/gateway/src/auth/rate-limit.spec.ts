import { describe, expect, it } from '@jest/globals';
import { RateLimiter, take, type Bucket } from './rate-limit.js';

const limit = { perSecond: 2, burst: 3 };

/** Takes one token at each time (ms), and says which were allowed. */
function takes(times: number[]): (true | number)[] {
  let bucket: Bucket | undefined;
  return times.map((now) => {
    const result = take(limit, bucket, now);
    bucket = result.bucket;
    return result.allowed ? true : result.retryAfterSeconds;
  });
}

describe('a token bucket per key', () => {
  it('lets a burst through, then refuses with the seconds to wait', () => {
    expect(takes([0, 0, 0, 0])).toEqual([true, true, true, 1]);
  });

  it('refills at the rate: half a second gives one more request at 2/s', () => {
    expect(takes([0, 0, 0, 100, 500, 500])).toEqual([true, true, true, 1, true, 1]);
  });

  it('never holds more than the burst, however long a key was idle', () => {
    expect(takes([0, 3_600_000, 3_600_000, 3_600_000, 3_600_000])).toEqual([
      true,
      true,
      true,
      true,
      1,
    ]);
  });

  it('says to wait several seconds when the rate is below one a second', () => {
    const slow = { perSecond: 0.25, burst: 1 };
    const bucket = take(slow, undefined, 0).bucket;
    const refused = take(slow, bucket, 0);
    expect(refused).toMatchObject({ allowed: false, retryAfterSeconds: 4 });
  });

  it('counts each key on its own, forgets a revoked one, and limits nothing at 0/s', () => {
    const limiter = new RateLimiter({ perSecond: 1, burst: 1 });
    expect(limiter.take('key-a', 0).allowed).toBe(true);
    expect(limiter.take('key-a', 0)).toEqual({ allowed: false, retryAfterSeconds: 1 });
    expect(limiter.take('key-b', 0).allowed).toBe(true);
    limiter.forget('key-a');
    expect(limiter.take('key-a', 0).allowed).toBe(true);

    const off = new RateLimiter({ perSecond: 0, burst: 1 });
    expect(Array.from({ length: 100 }, () => off.take('key-a', 0).allowed)).not.toContain(false);
  });

  it('keeps at most maxKeys buckets, dropping the one used longest ago', () => {
    const limiter = new RateLimiter({ perSecond: 1, burst: 1 }, 2);
    limiter.take('key-a', 0);
    limiter.take('key-b', 0);
    limiter.take('key-a', 0); // refused, and now the most recently used
    limiter.take('key-c', 0); // key-b is dropped
    expect(limiter.take('key-a', 0).allowed).toBe(false); // still counted
    expect(limiter.take('key-b', 0).allowed).toBe(true); // a new, full bucket
  });
});
