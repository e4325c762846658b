import { mkdir, readdir, rename, rm, rmdir, stat, utimes } from 'node:fs/promises';
import path from 'node:path';

/**
 * The folders jobs run in, under one root: `<root>/<executor pid>/<jobId>/<attempt>` while a job
 * runs. A job that succeeds (or is cancelled, or handed back) has its folder removed once its
 * outputs are saved; a failed job's folder moves to `<root>/failed/<jobId>-<attempt>` and is kept
 * for `keepFailedMs` for debugging. Folders of executors that died (their pid is gone) and failed
 * folders past their time are removed by {@link sweep}, at start and every few minutes.
 */
export class WorkFolders {
  private readonly own: string;
  private readonly failed: string;

  constructor(
    readonly root: string,
    private readonly keepFailedMs: number,
    private readonly pid = process.pid,
    private readonly alive: (pid: number) => boolean = processAlive,
    private readonly now: () => number = Date.now,
  ) {
    this.own = path.join(root, String(pid));
    this.failed = path.join(root, 'failed');
  }

  /** A new, empty folder for one attempt of a job. */
  async create(jobId: string, attempt: number): Promise<string> {
    const dir = path.join(this.own, jobId, String(attempt));
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    return dir;
  }

  /** The attempt is over and nothing in its folder is needed any more. */
  async remove(dir: string): Promise<void> {
    await rm(dir, { recursive: true, force: true });
    // The job's folder goes with its last attempt (another may still be in it).
    await rmdir(path.dirname(dir)).catch(() => undefined);
  }

  /** The attempt failed: its folder is kept for a while (its path is answered), then removed. */
  async keepFailed(dir: string, jobId: string, attempt: number): Promise<string> {
    await mkdir(this.failed, { recursive: true });
    const kept = path.join(this.failed, `${jobId}-${attempt}`);
    await rm(kept, { recursive: true, force: true });
    await rename(dir, kept);
    // Its age counts from the failure, whatever the job's files say.
    const at = new Date(this.now());
    await utimes(kept, at, at);
    await rmdir(path.dirname(dir)).catch(() => undefined);
    return kept;
  }

  /**
   * Removes what no one needs: this executor's folders from an earlier life (nothing runs yet at
   * start), folders of executors whose process is gone, and failed folders past their time.
   * Folders of live executors (another one on the same home) are theirs and left alone.
   */
  async sweep(options: { atStart: boolean }): Promise<string[]> {
    const removed: string[] = [];
    for (const entry of await readdir(this.root).catch(() => [] as string[])) {
      const dir = path.join(this.root, entry);
      if (entry === 'failed') {
        for (const kept of await readdir(dir).catch(() => [] as string[])) {
          const folder = path.join(dir, kept);
          const info = await stat(folder).catch(() => undefined);
          if (info !== undefined && this.now() - info.mtimeMs > this.keepFailedMs) {
            await rm(folder, { recursive: true, force: true });
            removed.push(folder);
          }
        }
        continue;
      }
      if (!/^\d+$/.test(entry)) continue;
      const owner = Number(entry);
      const mine = owner === this.pid;
      if ((mine && options.atStart) || (!mine && !this.alive(owner))) {
        await rm(dir, { recursive: true, force: true });
        removed.push(dir);
      }
    }
    return removed;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, as another user's.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
