/**
 * Time and chance for the simulated cloud: a clock that runs `speedup` times faster than real
 * time, and random numbers that come from a seed.
 *
 * The clock is scaled real time, not a discrete-event simulator. The scheduler, the provisioner
 * and the bus around the simulation do real work that the clock cannot see, so time cannot jump
 * to the next simulated event; it flows, faster. Simulated durations are exact (they are computed,
 * and recorded as computed), but anything that waits on the real system (dispatch, events) is
 * stretched by the speed-up: 5 ms of real dispatch latency is 18 virtual seconds at 3600×.
 */

/** Where real time comes from, injected so tests control it. */
export interface RealTime {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemTime: RealTime = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => {
    const handle = setTimeout(callback, ms);
    // Pending simulated events never keep a process alive that is shutting down.
    handle.unref();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface VirtualClockOptions {
  /** Virtual milliseconds per real millisecond, e.g. 3600: a virtual hour per real second. */
  readonly speedup: number;
  /** Seed of every random stream ({@link VirtualClock.random}). */
  readonly seed: number;
  /** Virtual time when the clock starts (default: the real wall time then). */
  readonly start?: Date;
  readonly realTime?: RealTime;
}

/** Cancels a scheduled callback; a no-op once it has run. */
export type Cancel = () => void;

export class VirtualClock {
  readonly speedup: number;
  readonly seed: number;
  private readonly realTime: RealTime;
  /** Real milliseconds when the clock started. */
  private readonly origin: number;
  /** Virtual epoch milliseconds when the clock started. */
  private readonly startMs: number;

  constructor(options: VirtualClockOptions) {
    if (!Number.isFinite(options.speedup) || options.speedup <= 0) {
      throw new RangeError(`speedup must be a positive number, not ${options.speedup}`);
    }
    if (!Number.isSafeInteger(options.seed)) {
      throw new RangeError(`seed must be a whole number, not ${options.seed}`);
    }
    this.speedup = options.speedup;
    this.seed = options.seed;
    this.realTime = options.realTime ?? systemTime;
    this.origin = this.realTime.now();
    this.startMs = (options.start ?? new Date()).getTime();
  }

  /** Virtual epoch milliseconds. */
  nowMs(): number {
    return this.startMs + (this.realTime.now() - this.origin) * this.speedup;
  }

  now(): Date {
    return new Date(this.nowMs());
  }

  /** Real milliseconds that `virtualMs` virtual milliseconds take. */
  realMs(virtualMs: number): number {
    return virtualMs / this.speedup;
  }

  /**
   * Runs `callback` once `virtualMs` virtual milliseconds have passed (at once, in a later task,
   * when that is zero or less). Real timers have millisecond resolution, so at a high speed-up
   * the callback runs up to `speedup` virtual milliseconds late, never early.
   */
  schedule(virtualMs: number, callback: () => void): Cancel {
    const due = this.nowMs() + Math.max(0, virtualMs);
    let handle: unknown;
    let cancelled = false;
    const wait = (realMs: number) => {
      handle = this.realTime.setTimeout(() => {
        if (cancelled) return;
        const left = due - this.nowMs();
        if (left > 0) wait(Math.ceil(this.realMs(left)));
        else callback();
      }, realMs);
    };
    wait(Math.ceil(this.realMs(Math.max(0, virtualMs))));
    return () => {
      cancelled = true;
      this.realTime.clearTimeout(handle);
    };
  }

  /** Waits `virtualMs` of virtual time; resolves early (without error) when `signal` aborts. */
  sleep(virtualMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal?.aborted === true) {
        resolve();
        return;
      }
      const onAbort = () => {
        cancel();
        resolve();
      };
      const cancel = this.schedule(virtualMs, () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * A random stream in [0, 1) from the clock's seed and a name: the same seed and name always give
   * the same sequence, and streams of different names are independent (e.g. one per instance, so
   * an instance's fate does not depend on the order other instances were launched in).
   */
  random(stream: string): () => number {
    return seededRandom(this.seed, stream);
  }
}

/**
 * A small, fast pseudo-random generator (mulberry32) seeded from a number and a stream name
 * (hashed with FNV-1a). Good for simulation, not for anything secret.
 */
export function seededRandom(seed: number, stream = ''): () => number {
  let h = 0x811c9dc5 ^ (seed | 0) ^ Math.floor(seed / 0x1_0000_0000);
  for (let i = 0; i < stream.length; i++) {
    h ^= stream.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  let state = h >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
