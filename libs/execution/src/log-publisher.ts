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

/** Output waiting for the bus is kept up to this many bytes; lines beyond are counted, not kept. */
const DEFAULT_MAX_PENDING_BYTES = 16 * 1024 * 1024;

/** How long the end of an attempt waits for an unreachable bus before its output is given up. */
const DEFAULT_END_GRACE_MS = 30_000;

export interface LogPublisherOptions {
  readonly tailSize?: number;
  readonly now?: () => Date;
  /** Bytes of output sent for the attempt at most ({@link DEFAULT_MAX_LOG_BYTES}). */
  readonly maxBytes?: number;
  /**
   * Has the project's logs stream made when the bus says no stream takes its subjects (the
   * gateway's `ensureLogStream`); without it such output waits like any other undelivered one.
   */
  readonly ensureStream?: (project: string) => Promise<void>;
  /** Output kept while the bus is unreachable, in bytes ({@link DEFAULT_MAX_PENDING_BYTES}). */
  readonly maxPendingBytes?: number;
  /** How long {@link LogPublisher.end} waits for an unreachable bus ({@link DEFAULT_END_GRACE_MS}). */
  readonly endGraceMs?: number;
  /** First wait before a failed publish is tried again; doubles up to 5 s. */
  readonly retryMs?: number;
}

interface Pending {
  readonly data: Uint8Array;
  readonly lines: number;
  /** The chunk's id on the stream: a retry after a lost acknowledgement is kept once. */
  readonly id: string;
}

/**
 * Sends a job's output to its project's logs stream in small batches (every 100 ms or 256 lines),
 * keeps the last lines for the failure message, and closes the attempt with an end marker.
 *
 * Bounded in every direction: an attempt that prints more than `maxBytes` has one line saying its
 * output was cut and nothing more of it is sent (its last lines are still kept for the failure
 * message); while the bus is unreachable, batches wait in order (up to `maxPendingBytes`, then new
 * lines are counted and a line says how many were lost) and go out on reconnect, each with an id
 * the stream deduplicates, so a retry never doubles a line; and the end of the attempt waits for
 * them at most `endGraceMs`. A lost line never fails the job.
 */
export class LogPublisher {
  private buffer: LogChunk['lines'] = [];
  private readonly tail: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly subject: string;
  private bytes = 0;
  private buffered = 0;
  private truncated = false;
  private readonly queue: Pending[] = [];
  private pendingBytes = 0;
  private sent = 0;
  /** Lines not kept because the bus was unreachable and the queue full. */
  private lost = 0;
  private draining: Promise<void> | undefined;
  /** Once set, undelivered output older than this is given up (the attempt has ended). */
  private giveUpAt: number | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly bus: Bus,
    private readonly project: string,
    private readonly jobId: string,
    private readonly attempt: number,
    private readonly options: LogPublisherOptions = {},
  ) {
    this.subject = subjects.output(bus.topology, project, jobId);
  }

  line(stream: StreamName, text: string): void {
    this.tail.push(text);
    if (this.tail.length > (this.options.tailSize ?? 20)) this.tail.shift();
    if (this.truncated) return;
    const max = this.options.maxBytes ?? DEFAULT_MAX_LOG_BYTES;
    this.bytes += Buffer.byteLength(text) + 1;
    const t = this.now();
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
    await this.settle();
  }

  /** Sends what is buffered, with no end marker: the job goes on elsewhere (a new attempt). */
  async close(): Promise<void> {
    this.flush();
    await this.settle();
  }

  /** Lines given up so far because the bus could not take them (for the executor's log). */
  get linesLost(): number {
    return this.lost;
  }

  private now(): string {
    return (this.options.now?.() ?? new Date()).toISOString();
  }

  private async settle(): Promise<void> {
    this.giveUpAt = Date.now() + (this.options.endGraceMs ?? DEFAULT_END_GRACE_MS);
    this.wake?.();
    await this.draining;
  }

  private flush(end?: LogChunk['end']): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.length === 0 && end === undefined) return;
    const lines = this.buffer;
    this.buffer = [];
    this.buffered = 0;
    const maxPending = this.options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
    if (end === undefined && this.pendingBytes >= maxPending) {
      // The bus has not taken the last ${maxPending} bytes: these lines are not kept.
      this.lost += lines.length;
      return;
    }
    if (this.lost > 0) {
      lines.unshift({
        t: this.now(),
        s: 'err',
        l: `acai: ${this.lost} lines of output were lost: the bus was unreachable and ${maxPending} bytes were waiting`,
      });
      this.lost = 0;
    }
    const chunk: LogChunk = {
      jobId: this.jobId,
      attempt: this.attempt,
      lines,
      ...(end ? { end } : {}),
    };
    const data = encodeJson(chunk);
    this.sent += 1;
    this.queue.push({
      data,
      lines: lines.length,
      id: `${this.jobId}.${this.attempt}.${this.sent}`,
    });
    this.pendingBytes += data.length;
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
    });
  }

  /** Sends the queued chunks in order, each until the bus takes it or the attempt gives up. */
  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      if (!(await this.deliver(next))) {
        // Given up: the bus stayed unreachable past the end of the attempt's grace.
        for (const pending of this.queue.splice(0)) this.lost += pending.lines;
        this.pendingBytes = 0;
        return;
      }
      this.queue.shift();
      this.pendingBytes -= next.data.length;
    }
  }

  private async deliver(chunk: Pending): Promise<boolean> {
    let wait = this.options.retryMs ?? 200;
    for (;;) {
      try {
        await this.bus.js.publish(this.subject, chunk.data, { msgID: chunk.id });
        return true;
      } catch (error) {
        if (this.giveUpAt !== undefined && Date.now() >= this.giveUpAt) return false;
        if (isNoStream(error) && this.options.ensureStream) {
          await this.options.ensureStream(this.project).catch(() => undefined);
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          // The attempt ended: try once more now, then give up when the grace is over.
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = undefined;
        wait = Math.min(wait * 2, 5_000);
      }
    }
  }
}

/**
 * One `ensure` at a time per project, shared by every publisher of a process that finds the
 * project's logs stream missing at once.
 */
export function sharedEnsure(
  ensure: (project: string) => Promise<unknown>,
): (project: string) => Promise<void> {
  const making = new Map<string, Promise<void>>();
  return (project) => {
    let current = making.get(project);
    if (current === undefined) {
      current = ensure(project)
        .then(() => undefined)
        .finally(() => making.delete(project));
      making.set(project, current);
    }
    return current;
  };
}

/** JetStream answers a publish to a subject no stream takes with no responders. */
function isNoStream(error: unknown): boolean {
  return error instanceof Error && error.name === 'JetStreamNotEnabled';
}
