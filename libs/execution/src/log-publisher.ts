import { subjects, type LogChunk } from '@acai/contracts';
import { encodeJson, type Bus } from '@acai/eventing';

/** Which of a job's outputs a line came from. */
export type StreamName = 'out' | 'err';

/**
 * Sends a job's output to the logs stream in small batches (every 100 ms or 256 lines), keeps the
 * last lines for the failure message, and closes the attempt with an end marker.
 */
export class LogPublisher {
  private buffer: LogChunk['lines'] = [];
  private readonly tail: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<unknown> = Promise.resolve();
  private readonly subject: string;

  constructor(
    private readonly bus: Bus,
    project: string,
    private readonly jobId: string,
    private readonly attempt: number,
    private readonly options: { readonly tailSize?: number; readonly now?: () => Date } = {},
  ) {
    this.subject = subjects.log(bus.topology, project, jobId);
  }

  line(stream: StreamName, text: string): void {
    this.buffer.push({ t: (this.options.now?.() ?? new Date()).toISOString(), s: stream, l: text });
    this.tail.push(text);
    if (this.tail.length > (this.options.tailSize ?? 20)) this.tail.shift();
    if (this.buffer.length >= 256) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), 100);
  }

  lastLines(): string[] {
    return [...this.tail];
  }

  /** Sends what is buffered and the end marker of the attempt. */
  async end(status: 'succeeded' | 'failed' | 'cancelled'): Promise<void> {
    this.flush({ status });
    await this.sending;
  }

  /** Sends what is buffered, with no end marker: the job goes on elsewhere (a new attempt). */
  async close(): Promise<void> {
    this.flush();
    await this.sending;
  }

  private flush(end?: LogChunk['end']): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.length === 0 && end === undefined) return;
    const chunk: LogChunk = {
      jobId: this.jobId,
      attempt: this.attempt,
      lines: this.buffer,
      ...(end ? { end } : {}),
    };
    this.buffer = [];
    const previous = this.sending;
    // Chunks go out in order; a lost log chunk must not fail the job, so errors are swallowed here.
    this.sending = previous.then(() =>
      this.bus.js.publish(this.subject, encodeJson(chunk)).catch(() => undefined),
    );
  }
}
