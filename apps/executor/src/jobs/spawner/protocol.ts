/**
 * What the executor and its spawner process (`spawner-main.ts`) say to each other over the
 * spawner's IPC channel. Types only: the spawner imports nothing but Node's own modules, so that
 * it stays small (and runs from its TypeScript source in tests).
 */

/** The executor asks: start this argv (no shell, its own process group). */
export interface StartRequest {
  readonly type: 'start';
  /** The executor's number for this process, in every report about it. */
  readonly id: number;
  readonly argv: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  /** Files the process gets as fds 3, 4, …: each opened, then removed, before it starts. */
  readonly handOver: readonly string[];
}

export type SpawnerRequest = StartRequest;

/** Why a process did not start (Node's errno code, as `spawn` gives it). */
export interface NotStarted {
  readonly type: 'not-started';
  readonly id: number;
  /** `handover` when a file to hand over could not be opened or removed. */
  readonly code: string;
  readonly message: string;
}

/**
 * The spawner reports, in this order for one process: started (or not), output, exited, closed.
 * Each message it sends is an array of reports (those of one turn of its event loop).
 */
export type SpawnerReport =
  | { readonly type: 'started'; readonly id: number; readonly pid: number }
  | NotStarted
  | {
      readonly type: 'output';
      readonly id: number;
      readonly stream: 'out' | 'err';
      /** Decoded as UTF-8 (a character cut between reads is kept for the next). */
      readonly text: string;
    }
  /** The process ended; its process group has been sent SIGKILL. Its output may still come. */
  | { readonly type: 'exited'; readonly id: number }
  /** Its output ended too: nothing more about it. */
  | {
      readonly type: 'closed';
      readonly id: number;
      readonly code: number | null;
      readonly signal: NodeJS.Signals | null;
    };
