import {
  chmod,
  chown,
  lstat,
  mkdir,
  readdir,
  rename,
  rm,
  rmdir,
  stat,
  utimes,
} from 'node:fs/promises';
import path from 'node:path';

/** Who owns a job's folder: the slot user it runs as (uid sandbox). */
export interface FolderOwner {
  readonly uid: number;
  readonly gid: number;
}

/**
 * The folders jobs run in, under one root: `<root>/<executor pid>/<jobId>/<attempt>` while a job
 * runs. The root and the folders above an attempt's are the executor's, mode 0711 (a job can pass
 * through to its own folder but list nothing); an attempt's folder is mode 0700 and owned by the
 * user the job runs as, so no other job can look in. A job that succeeds (or is cancelled, or
 * handed back) has its folder removed once its outputs are saved; a failed job's folder moves to
 * `<root>/failed/<jobId>-<attempt>` and is kept for `keepFailedMs` for debugging. Folders of executors that died (their pid is gone) and failed
 * folders past their time are removed by {@link sweep}, at start and every few minutes.
 */
export class WorkFolders {
  private readonly own: string;
  private readonly failed: string;
  private prepared = false;
  private readonly pid: number;
  private readonly alive: (pid: number) => boolean;
  private readonly now: () => number;
  /** Jobs run as other users than the executor's (the uid sandbox). */
  private readonly forOtherUsers: boolean;

  constructor(
    readonly root: string,
    private readonly keepFailedMs: number,
    options: {
      pid?: number;
      alive?: (pid: number) => boolean;
      now?: () => number;
      forOtherUsers?: boolean;
    } = {},
  ) {
    this.pid = options.pid ?? process.pid;
    this.alive = options.alive ?? processAlive;
    this.now = options.now ?? Date.now;
    this.forOtherUsers = options.forOtherUsers ?? false;
    this.own = path.join(root, String(this.pid));
    this.failed = path.join(root, 'failed');
  }

  /** A new, empty folder for one attempt of a job, owned by `owner` when one is given. */
  async create(jobId: string, attempt: number, owner?: FolderOwner): Promise<string> {
    await this.prepare();
    const dir = path.join(this.own, jobId, String(attempt));
    // The job's folder goes when its last attempt's is removed (`remove`, `keepFailed`): an earlier
    // attempt ending here just now can take it away under this one, so it is made again then. A
    // folder of this attempt already there (left by an earlier try) is removed first: the attempt
    // starts empty. (Made first and removed only when there, rather than removed every time: the
    // usual case costs no look-up.)
    for (let tries = 1; ; tries += 1) {
      try {
        await mkdir(path.dirname(dir), { recursive: true, mode: 0o711 });
        await mkdir(dir, { mode: 0o700 });
        break;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if ((code !== 'ENOENT' && code !== 'EEXIST') || tries >= 5) throw error;
        if (code === 'EEXIST') await rm(dir, { recursive: true, force: true });
      }
    }
    if (owner !== undefined) await chown(dir, owner.uid, owner.gid);
    return dir;
  }

  /**
   * The root is ours and no one else's to list: refuses a root that is a symbolic link or belongs to
   * another user (someone could have made it first, to read or swap what jobs write).
   */
  private async prepare(): Promise<void> {
    if (this.prepared) return;
    await mkdir(this.root, { recursive: true, mode: 0o711 });
    const info = await lstat(this.root);
    const me = process.getuid?.();
    if (info.isSymbolicLink() || !info.isDirectory() || (me !== undefined && info.uid !== me)) {
      throw new Error(
        `the work folder ${this.root} is not a folder owned by this user (uid ${me ?? '?'}); remove it or set ACAI_WORK_DIR to another folder`,
      );
    }
    await chmod(this.root, 0o711);
    if (this.forOtherUsers) {
      // Jobs run as other users: each folder above the root must let them pass.
      for (let dir = path.dirname(this.root); ; dir = path.dirname(dir)) {
        if (((await stat(dir)).mode & 0o001) === 0) {
          throw new Error(
            `jobs run as other users cannot reach ${this.root}: ${dir} does not let others pass (chmod o+x ${dir}, or set ACAI_WORK_DIR to a folder they can reach)`,
          );
        }
        if (dir === path.dirname(dir)) break;
      }
    }
    await mkdir(this.failed, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
    await chmod(this.failed, 0o700);
    this.prepared = true;
  }

  /** The attempt is over and nothing in its folder is needed any more. */
  async remove(dir: string): Promise<void> {
    await rm(dir, { recursive: true, force: true });
    // The job's folder goes with its last attempt (another may still be in it).
    await rmdir(path.dirname(dir)).catch(() => undefined);
  }

  /** The attempt failed: its folder is kept for a while (its path is answered), then removed. */
  async keepFailed(dir: string, jobId: string, attempt: number): Promise<string> {
    await this.prepare();
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

/** Whether a process with this pid exists (as anyone's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, as another user's.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
