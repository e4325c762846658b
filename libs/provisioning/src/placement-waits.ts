/**
 * How long a job waits from being queued to starting beyond its configuration's boot, per
 * provider, as measured on the jobs placed: the time the stack itself takes (placing, dispatching,
 * an executor taking the work). A plan holds a deadline against it, as it does against the boot.
 *
 * The waits are a projection of the log (`job.queued`, `job.requeued` or `job.rescaled`, then
 * `job.provisioned`, then `job.started`: the provisioner's `placement-waits` table); this is its
 * copy in memory, which the projection loads when the provisioner starts and extends with each
 * wait it commits, so a restarted provisioner has its margins at once.
 */
export class PlacementWaits {
  private readonly samples = new Map<string, number[]>();

  constructor(
    /** The waits kept per provider, newest: the margin is a quantile of them. */
    private readonly window = WAITS_KEPT,
    /** The quantile of the waits a plan holds a deadline against. */
    private readonly quantile = WAIT_QUANTILE,
  ) {}

  /** Replaces what is known with `samples`: per provider, its waits in seconds, oldest first. */
  load(samples: Readonly<Record<string, readonly number[]>>): void {
    this.samples.clear();
    for (const [provider, waits] of Object.entries(samples)) {
      for (const seconds of waits) this.record(provider, seconds);
    }
  }

  /** One more wait measured on `provider`, seconds beyond the boot (see {@link waitSeconds}). */
  record(provider: string, seconds: number): void {
    if (!Number.isFinite(seconds)) return;
    const samples = this.samples.get(provider) ?? [];
    samples.push(Math.max(0, seconds));
    if (samples.length > this.window) samples.shift();
    this.samples.set(provider, samples);
  }

  /**
   * Per provider, the seconds a plan adds to a configuration's boot for the wait to start: the
   * {@link WAIT_QUANTILE} of the last waits measured there, once {@link LEAST_WAITS} were.
   */
  marginSeconds(): Record<string, number> {
    const margins: Record<string, number> = {};
    for (const [provider, samples] of this.samples) {
      if (samples.length < LEAST_WAITS) continue;
      const sorted = [...samples].sort((a, b) => a - b);
      const index = Math.min(sorted.length - 1, Math.ceil(this.quantile * sorted.length) - 1);
      margins[provider] = sorted[Math.max(0, index)]!;
    }
    return margins;
  }
}

/**
 * One wait: a job queued at real `queuedAtMs`, placed on a configuration that boots in
 * `bootSeconds`, whose attempt started at real `startedAtMs` on a clock `rate` times as fast as
 * real time (a simulated node's; 1: real time): its wait on that clock, less the boot (a start on
 * a node already up is no wait, not a negative one). Null when the times are not numbers. Pure.
 */
export function waitSeconds(
  queuedAtMs: number,
  bootSeconds: number,
  startedAtMs: number,
  rate = 1,
): number | null {
  const seconds = ((startedAtMs - queuedAtMs) * rate) / 1000 - bootSeconds;
  return Number.isFinite(seconds) ? Math.max(0, seconds) : null;
}

/** The waits kept per provider. */
export const WAITS_KEPT = 50;
/** A plan holds a deadline against the wait 90 % of jobs start within. */
export const WAIT_QUANTILE = 0.9;
/** Fewer waits than this say nothing yet. */
export const LEAST_WAITS = 5;
