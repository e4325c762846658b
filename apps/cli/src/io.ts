import cliProgress from 'cli-progress';
import { bytes } from './format.js';

/** Where a command writes, and how: a terminal gets progress bars, anything else plain lines. */
export interface Io {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly stderr: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
  readonly stdin?: NodeJS.ReadableStream;
}

export class Output {
  constructor(
    readonly io: Io,
    /** `--json`: the result as JSON on stdout, nothing else. */
    readonly json: boolean,
  ) {}

  /** Whether to draw progress bars: stdout is a terminal and not --json. */
  get tty(): boolean {
    return this.io.stdout.isTTY === true && !this.json && this.io.env['ACAI_NO_PROGRESS'] !== '1';
  }

  /** A line for a person (not with --json). */
  line(text = ''): void {
    if (!this.json) this.io.stdout.write(`${text}\n`);
  }

  /** The command's result: JSON with --json, else the text made by `text`. */
  result<T>(value: T, text: (value: T) => string): void {
    if (this.json) this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    else {
      const out = text(value);
      if (out !== '') this.io.stdout.write(`${out}\n`);
    }
  }

  /** One JSON value per line (a stream: events, with --json). */
  record(value: unknown): void {
    this.io.stdout.write(`${JSON.stringify(value)}\n`);
  }

  /** A bar of bytes moved, or a line per file when stdout is no terminal. */
  bytes(label: string, total: number): { update(done: number): void; stop(): void } {
    if (!this.tty) {
      this.line(`${label} (${bytes(total)})`);
      return { update: () => undefined, stop: () => undefined };
    }
    const bar = new cliProgress.SingleBar(
      {
        stream: this.io.stdout,
        format: `${label} [{bar}] {percentage}% {done} of {size} | {speed}`,
        hideCursor: true,
        barsize: 24,
        fps: 10,
      },
      cliProgress.Presets.shades_classic,
    );
    const started = Date.now();
    bar.start(total, 0, { done: bytes(0), size: bytes(total), speed: '' });
    return {
      update: (done) => {
        const seconds = (Date.now() - started) / 1000;
        bar.update(done, {
          done: bytes(done),
          speed: seconds > 0.2 ? `${bytes(done / seconds)}/s` : '',
        });
      },
      stop: () => bar.stop(),
    };
  }

  /** A bar of a run's jobs ended, with a line of what it is at beside it. */
  progress(total: number): { update(done: number, text: string): void; stop(): void } {
    const bar = new cliProgress.SingleBar(
      { stream: this.io.stdout, format: '[{bar}] {text}', hideCursor: true, barsize: 20, fps: 5 },
      cliProgress.Presets.shades_classic,
    );
    bar.start(Math.max(1, total), 0, { text: '' });
    return {
      update: (done, text) => {
        // A pseudo-terminal may say it has no width (0): then assume a usual one.
        const columns = this.io.stdout.columns ?? 0;
        const width = (columns >= 40 ? columns : 120) - 24;
        bar.update(done, { text: text.length > width ? `${text.slice(0, width - 1)}…` : text });
      },
      stop: () => bar.stop(),
    };
  }
}
