import type { MetricPoint } from '@acai/contracts';
import { parseMetricLine } from './metrics-protocol.js';

/** Points kept while they cannot be sent (the bus is down): beyond, new ones are counted, not kept. */
const MAX_WAITING_POINTS = 100_000;

/**
 * Collects the metric lines a job prints and reports them in batches (every 500 ms or 200 points),
 * one after another, so they become `job.metrics_reported` events in order. Each batch has its
 * number (1, 2, 3 … within the attempt), so `report` may send one again after a lost answer or an
 * outage (it waits them out) and the job records it once.
 */
export class MetricsReporter {
  private pending: MetricPoint[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> = Promise.resolve();
  private batches = 0;
  private waiting = 0;
  private dropped = 0;

  constructor(
    /** Records batch number `batch`; may be called again with the same batch. */
    private readonly report: (points: MetricPoint[], batch: number) => Promise<void>,
    private readonly note: (message: string) => void,
  ) {}

  line(text: string): void {
    const parsed = parseMetricLine(text, new Date().toISOString());
    if (parsed === undefined) return;
    if ('error' in parsed) {
      this.note(`acai: ignored a metric line (${parsed.error}): ${text.slice(0, 200)}`);
      return;
    }
    if (this.waiting + this.pending.length + parsed.length > MAX_WAITING_POINTS) {
      if (this.dropped === 0) {
        this.note(
          `acai: ${MAX_WAITING_POINTS} metric points are waiting to be recorded; later ones are dropped until they are`,
        );
      }
      this.dropped += parsed.length;
      return;
    }
    this.pending.push(...parsed);
    if (this.pending.length >= 200) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), 500);
  }

  /**
   * Sends what is pending and waits until every batch so far is recorded: before a checkpoint is
   * recorded (the metrics of the epochs it covers come first) and before the job's outcome.
   */
  async settle(): Promise<void> {
    this.flush();
    await this.sending;
  }

  /** Sends what is left and waits for every batch: before the job's outcome is recorded. */
  async close(): Promise<void> {
    await this.settle();
    if (this.dropped > 0) {
      this.note(`acai: ${this.dropped} metric points were dropped while the bus was unreachable`);
    }
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const points = this.pending;
    this.pending = [];
    if (points.length === 0) return;
    this.batches += 1;
    const batch = this.batches;
    this.waiting += points.length;
    this.sending = this.sending.then(() =>
      this.report(points, batch)
        .catch((error: unknown) =>
          this.note(
            `acai: could not record ${points.length} metric points: ${error instanceof Error ? error.message : String(error)}`,
          ),
        )
        .finally(() => (this.waiting -= points.length)),
    );
  }
}
