/**
 * Requests per API key as a token bucket: a key may send `burst` requests at once, then
 * `perSecond` a second. Pure: the time is an argument, so a test needs no clock.
 */
export interface RateLimit {
  /** Tokens added per second; 0 turns limiting off. */
  readonly perSecond: number;
  /** Most tokens a bucket holds: the largest burst. */
  readonly burst: number;
}

export interface Bucket {
  readonly tokens: number;
  /** When `tokens` was counted, in milliseconds. */
  readonly at: number;
}

export type Take =
  | { readonly allowed: true; readonly bucket: Bucket }
  | { readonly allowed: false; readonly bucket: Bucket; readonly retryAfterSeconds: number };

/** Takes one token from `bucket` (a full one when there is none yet) at time `now`. */
export function take(limit: RateLimit, bucket: Bucket | undefined, now: number): Take {
  const elapsed = bucket === undefined ? 0 : Math.max(0, now - bucket.at);
  const tokens =
    bucket === undefined
      ? limit.burst
      : Math.min(limit.burst, bucket.tokens + (elapsed / 1000) * limit.perSecond);
  if (tokens >= 1) return { allowed: true, bucket: { tokens: tokens - 1, at: now } };
  return {
    allowed: false,
    bucket: { tokens, at: now },
    // Whole seconds (what Retry-After carries), rounded up: never "0, try now" while empty.
    retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / limit.perSecond)),
  };
}

/** One bucket per key, in this gateway replica's memory (each replica limits on its own). */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly limit: RateLimit,
    private readonly maxKeys = 100_000,
  ) {}

  get enabled(): boolean {
    return this.limit.perSecond > 0;
  }

  /** Takes a token for `keyId`; `retryAfterSeconds` when it has none left. */
  take(
    keyId: string,
    now: number,
  ): { allowed: true } | { allowed: false; retryAfterSeconds: number } {
    if (!this.enabled) return { allowed: true };
    const result = take(this.limit, this.buckets.get(keyId), now);
    // Re-inserted, so the first key in the map is the one used longest ago: the one to drop.
    this.buckets.delete(keyId);
    this.buckets.set(keyId, result.bucket);
    if (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    return result.allowed
      ? { allowed: true }
      : { allowed: false, retryAfterSeconds: result.retryAfterSeconds };
  }

  /** A revoked key needs no bucket. */
  forget(keyId: string): void {
    this.buckets.delete(keyId);
  }
}
