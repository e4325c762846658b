/**
 * How long a job waits from being queued to starting beyond its configuration's boot, per
 * provider, as measured on the jobs placed: the time the stack itself takes (placing, dispatching,
 * an executor taking the work). A plan holds a deadline against it, as it does against the boot.
 * In memory: measured again from the next jobs after a restart (until then nothing is added).
 */
export class PlacementWaits {
  private readonly waiting = new Map<
    string,
    { readonly queuedAtMs: number; provider: string | null; bootSeconds: number }
  >();
  private readonly samples = new Map<string, number[]>();

  constructor(
    /** The waits kept per provider, newest: the margin is a quantile of them. */
    private readonly window = WAITS_KEPT,
    /** The quantile of the waits a plan holds a deadline against. */
    private readonly quantile = WAIT_QUANTILE,
  ) {}

  /** The job was queued (or queued again) at `realMs`: its wait for a place starts. */
  queued(jobId: string, realMs: number): void {
    this.waiting.delete(jobId);
    this.waiting.set(jobId, { queuedAtMs: realMs, provider: null, bootSeconds: 0 });
    // At most the last 10,000 waiting (the oldest first out): a job forgotten is not measured.
    if (this.waiting.size > 10_000) this.waiting.delete(this.waiting.keys().next().value!);
  }

  /** It was placed on `provider`, on a configuration that takes `bootSeconds` to boot. */
  placed(jobId: string, provider: string, bootSeconds: number): void {
    const wait = this.waiting.get(jobId);
    if (wait === undefined) return;
    wait.provider = provider;
    wait.bootSeconds = bootSeconds;
  }

  /**
   * Its attempt started at real `realMs`, on a clock `rate` times as fast as real time (a
   * simulated node's; 1: real time): its wait, on that clock, less the boot, is one sample.
   */
  started(jobId: string, realMs: number, rate = 1): void {
    const wait = this.waiting.get(jobId);
    this.waiting.delete(jobId);
    if (wait === undefined || wait.provider === null) return;
    const seconds = ((realMs - wait.queuedAtMs) * rate) / 1000 - wait.bootSeconds;
    if (!Number.isFinite(seconds)) return;
    const samples = this.samples.get(wait.provider) ?? [];
    samples.push(Math.max(0, seconds));
    if (samples.length > this.window) samples.shift();
    this.samples.set(wait.provider, samples);
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

/** The waits kept per provider. */
export const WAITS_KEPT = 50;
/** A plan holds a deadline against the wait 90 % of jobs start within. */
export const WAIT_QUANTILE = 0.9;
/** Fewer waits than this say nothing yet. */
export const LEAST_WAITS = 5;
