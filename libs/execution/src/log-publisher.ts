import { subjects, type LogChunk } from '@acai/contracts';
import { encodeJson, type Bus } from '@acai/eventing';

/** Which of a job's outputs a line came from. */
export type StreamName = 'out' | 'err';

/** What one attempt may write to the logs stream by default: 100 MiB (`ACAI_MAX_LOG_BYTES`). */
export const DEFAULT_MAX_LOG_BYTES = 100 * 1024 * 1024;

/** The last lines kept for a failure's event hold at most this many characters in all. */
export const MAX_TAIL_CHARS = 8 * 1024;

/** A batch of lines goes out once it holds this much, well under a bus message's 1 MiB. */
const FLUSH_AT_BYTES = 256 * 1024;

/**
 * Sends a job's output to the logs stream in small batches (every 100 ms or 256 lines), keeps the
 * last lines for the failure message, and closes the attempt with an end marker. An attempt that
 * prints more than `maxBytes` has one line saying its output was cut, and nothing more of it is
 * sent: one job cannot flood the shared stream (its last lines are still kept for the failure
 * message, and metric and checkpoint lines still count).
 */
export class LogPublisher {
  private buffer: LogChunk['lines'] = [];
  private readonly tail: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<unknown> = Promise.resolve();
  private readonly subject: string;
  private bytes = 0;
  private buffered = 0;
  private truncated = false;

  constructor(
    private readonly bus: Bus,
    project: string,
    private readonly jobId: string,
    private readonly attempt: number,
    private readonly options: {
      readonly tailSize?: number;
      readonly now?: () => Date;
      /** Bytes of output sent for the attempt at most ({@link DEFAULT_MAX_LOG_BYTES}). */
      readonly maxBytes?: number;
    } = {},
  ) {
    this.subject = subjects.log(bus.topology, project, jobId);
  }

  line(stream: StreamName, text: string): void {
    this.tail.push(text);
    if (this.tail.length > (this.options.tailSize ?? 20)) this.tail.shift();
    if (this.truncated) return;
    const max = this.options.maxBytes ?? DEFAULT_MAX_LOG_BYTES;
    this.bytes += Buffer.byteLength(text) + 1;
    const t = (this.options.now?.() ?? new Date()).toISOString();
    if (this.bytes > max) {
      this.truncated = true;
      const l = `acai: output truncated: this attempt printed more than ${max} bytes (ACAI_MAX_LOG_BYTES); the rest is not kept`;
      this.buffer.push({ t, s: 'err', l });
    } else {
      this.buffer.push({ t, s: stream, l: text });
      this.buffered += Buffer.byteLength(text) + 64;
    }
    if (this.buffer.length >= 256 || this.buffered >= FLUSH_AT_BYTES) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), 100);
  }

  /**
   * The last lines, for the failure's event: at most {@link MAX_TAIL_CHARS} characters in all, the
   * oldest kept line cut at its start if it does not fit whole.
   */
  lastLines(): string[] {
    const kept: string[] = [];
    let room = MAX_TAIL_CHARS;
    for (let i = this.tail.length - 1; i >= 0 && room > 0; i--) {
      const line = this.tail[i]!;
      kept.unshift(line.length <= room ? line : `…${line.slice(line.length - room + 1)}`);
      room -= line.length;
    }
    return kept;
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
    this.buffered = 0;
    const previous = this.sending;
    // Chunks go out in order; a lost log chunk must not fail the job, so errors are swallowed here.
    this.sending = previous.then(() =>
      this.bus.js.publish(this.subject, encodeJson(chunk)).catch(() => undefined),
    );
  }
}
