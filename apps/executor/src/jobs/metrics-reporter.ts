import type { MetricPoint } from '@acai/contracts';
import { parseMetricLine } from './metrics-protocol.js';

/**
 * Collects the metric lines a job prints and reports them in batches (every 500 ms or 200 points),
 * one after another, so they become `job.metrics_reported` events in order.
 */
export class MetricsReporter {
  private pending: MetricPoint[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> = Promise.resolve();

  constructor(
    private readonly report: (points: MetricPoint[]) => Promise<void>,
    private readonly note: (message: string) => void,
  ) {}

  line(text: string): void {
    const parsed = parseMetricLine(text, new Date().toISOString());
    if (parsed === undefined) return;
    if ('error' in parsed) {
      this.note(`acai: ignored a metric line (${parsed.error}): ${text.slice(0, 200)}`);
      return;
    }
    this.pending.push(...parsed);
    if (this.pending.length >= 200) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), 500);
  }

  /** Sends what is left and waits for every batch: before the job's outcome is recorded. */
  async close(): Promise<void> {
    this.flush();
    await this.sending;
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const points = this.pending;
    this.pending = [];
    if (points.length === 0) return;
    this.sending = this.sending.then(() =>
      this.report(points).catch((error: unknown) =>
        this.note(
          `acai: could not record ${points.length} metric points: ${error instanceof Error ? error.message : String(error)}`,
        ),
      ),
    );
  }
}
