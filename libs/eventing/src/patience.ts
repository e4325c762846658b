/** How long a consumer waits between tries: doubling from `firstMs`, never more than `maxMs`. */
export interface RetryDelays {
  readonly firstMs: number;
  readonly maxMs: number;
}

export const DEFAULT_RETRY_DELAYS: RetryDelays = { firstMs: 200, maxMs: 5_000 };

/** How often a consumer that keeps waiting for a dependency says so in the log. */
export const WAITING_LOG_EVERY_MS = 30_000;

/**
 * How long one pull request of a consumer lasts (`expires`, its idle heartbeat half that). nats.js
 * also waits this long between its checks that a consumer still exists after a reconnect, while
 * JetStream recovers: with the default 30 s every consumer stood idle 30 to 45 s after nats-server
 * restarted (the chaos suite measured it). 5 s costs one pull request per idle consumer every 5 s.
 */
export const PULL_EXPIRES_MS = 5_000;

/**
 * The delay after the `n`th failed try (n ≥ 1): `firstMs`, doubled each time, at most `maxMs`, less
 * up to a fifth at random, so that consumers waiting on the same dependency do not all come back in
 * step when it does.
 */
export function retryDelay(n: number, delays: RetryDelays, random: () => number = Math.random) {
  const base = Math.min(delays.firstMs * 2 ** Math.min(Math.max(n - 1, 0), 30), delays.maxMs);
  return Math.round(base * (1 - 0.2 * random()));
}

/**
 * The messages of one consumer that wait for a dependency, for its log: a line when the first
 * starts waiting, then at most one every `logEveryMs` while any waits (however many they are and
 * however often they try), and one when none waits any more.
 */
export class WaitingRoom {
  private count = 0;
  private since: number | undefined;
  private loggedAt: number | undefined;

  constructor(private readonly logEveryMs = WAITING_LOG_EVERY_MS) {}

  /** Messages waiting now. */
  get waiting(): number {
    return this.count;
  }

  enter(now: number): void {
    if (this.count === 0) this.since = now;
    this.count++;
  }

  /** One stopped waiting; whether it was the last. */
  leave(): boolean {
    this.count = Math.max(0, this.count - 1);
    if (this.count > 0) return false;
    this.loggedAt = undefined;
    return true;
  }

  /** Whether a failed try should be logged now: the first one, then one per `logEveryMs`. */
  due(now: number): boolean {
    if (this.loggedAt !== undefined && now - this.loggedAt < this.logEveryMs) return false;
    this.loggedAt = now;
    return true;
  }

  /** Seconds since messages of this consumer started waiting, this time (none waited between). */
  seconds(now: number): number {
    return this.since === undefined ? 0 : Math.round((now - this.since) / 1000);
  }
}

/** Resolves after `ms`, or as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted === true) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
