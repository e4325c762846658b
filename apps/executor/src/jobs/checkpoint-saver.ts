import { readdir } from 'node:fs/promises';
import { parseCheckpointLine } from './metrics-protocol.js';

/**
 * Turns a job's `##acai checkpoint` lines into saved checkpoints, one save at a time. A job that
 * checkpoints faster than the folder can be saved loses nothing that matters: while a save runs,
 * later requests collapse into one, which saves the folder as it is by then (the newest state).
 */
export class CheckpointSaver {
  private running: Promise<void> | undefined;
  private next: { step: number | null } | undefined;

  constructor(
    private readonly folder: string,
    private readonly save: (step: number | null) => Promise<void>,
    private readonly note: (message: string) => void,
  ) {}

  line(text: string): void {
    const parsed = parseCheckpointLine(text);
    if (parsed === undefined) return;
    if ('error' in parsed) {
      this.note(`acai: ignored a checkpoint line (${parsed.error}): ${text.slice(0, 200)}`);
      return;
    }
    this.next = parsed;
    this.running ??= this.drain();
  }

  /** Waits for the saves in flight: before the job's outcome is recorded. */
  async close(): Promise<void> {
    await this.running;
  }

  private async drain(): Promise<void> {
    while (this.next !== undefined) {
      const { step } = this.next;
      this.next = undefined;
      try {
        if ((await readdir(this.folder)).length === 0) {
          this.note(
            'acai: ignored a checkpoint line: the checkpoint folder ($ACAI_CHECKPOINT_DIR) is empty; write the state there first',
          );
          continue;
        }
        await this.save(step);
      } catch (error) {
        this.note(
          `acai: could not save a checkpoint${step === null ? '' : ` of step ${step}`}: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
    this.running = undefined;
  }
}
