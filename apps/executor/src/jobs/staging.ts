import { constants, createReadStream, createWriteStream } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, open, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  CommonProblems,
  FilesetProblems,
  isProblem,
  type Creator,
  type InputLoad,
  type Page,
  type WorkAssignment,
} from '@acai/contracts';
import { commitChanges, HashingCounter, type BlobStore } from '@acai/blobstore';
import type { CommandSender } from '@acai/eventing';

interface FileEntry {
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
  readonly mediaType: string;
}

/** Staging or saving failed: the job fails with this message (and the reason its kind names). */
export class StagingError extends Error {
  override readonly name = 'StagingError';
}

/** The environment variable naming an input's or output's folder, e.g. ACAI_INPUT_MNIST_DATA. */
export function folderVariable(kind: 'INPUT' | 'OUTPUT', fileset: string): string {
  return `ACAI_${kind}_${fileset.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/**
 * Moves file set versions into a job's folder before it runs, verifying every byte against its
 * sha256, and saves its output folders as new versions, with the job recorded as their creator.
 */
export class Staging {
  /** Whether the file system of the blob store and the work folders can clone (reflink). */
  private cloneWorks: boolean | undefined;

  constructor(
    private readonly commands: CommandSender,
    private readonly blobs: BlobStore,
  ) {}

  /** Puts every input version in place: how many files, and how long each version took. */
  async stageInputs(
    work: WorkAssignment,
    workDir: string,
  ): Promise<{ files: number; loads: InputLoad[] }> {
    let files = 0;
    const loads: InputLoad[] = [];
    for (const input of work.inputs) {
      const started = performance.now();
      files += await this.stageVersion(
        work.project,
        input.fileset,
        input.version,
        inside(workDir, input.path),
      );
      const ms = Math.round((performance.now() - started) * 1000) / 1000;
      loads.push({ fileset: input.fileset, version: input.version, ms });
    }
    return { files, loads };
  }

  /**
   * Puts one version's files into `root`, read-only, verifying each against its sha256. A file is
   * cloned from a local blob store where the file system can (reflink: no bytes copied, no space
   * used until someone writes), copied otherwise. `writable` leaves them writable (a checkpoint
   * the job goes on writing into).
   */
  async stageVersion(
    project: string,
    fileset: string,
    version: number,
    root: string,
    options: { writable?: boolean } = {},
  ): Promise<number> {
    let files = 0;
    await mkdir(root, { recursive: true });
    for await (const file of this.files(project, fileset, version)) {
      const target = inside(root, file.path);
      await mkdir(path.dirname(target), { recursive: true });
      let digest: string;
      try {
        digest = await this.stageFile(file.sha256, target);
      } catch (error) {
        throw new StagingError(
          `could not stage ${fileset}@${version}/${file.path}: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
      if (digest !== file.sha256) {
        throw new StagingError(
          `${fileset}@${version}/${file.path} does not match its sha256: the stored copy is damaged. ` +
            'Upload that version again or recompute it.',
        );
      }
      if (options.writable !== true) await chmod(target, 0o444);
      files++;
    }
    return files;
  }

  /** How the last file was staged, for the executor's log line. */
  get method(): 'clone' | 'copy' {
    return this.cloneWorks === true ? 'clone' : 'copy';
  }

  /** Clones or copies one blob to `target`; answers the sha256 of what landed there. */
  private async stageFile(sha256: string, target: string): Promise<string> {
    const source = this.cloneWorks === false ? undefined : this.blobs.localPath?.(sha256);
    if (source !== undefined) {
      try {
        await copyFile(source, target, constants.COPYFILE_FICLONE_FORCE);
        this.cloneWorks = true;
        // The clone shares the blob's blocks: reading it back checks them.
        const counter = new HashingCounter();
        await pipeline(createReadStream(target, { highWaterMark: 1024 * 1024 }), counter);
        return counter.digest();
      } catch (error) {
        if (!CLONE_UNSUPPORTED.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
        // This file system cannot clone (ext4, tmpfs, another device): copy from now on.
        this.cloneWorks = false;
        await rm(target, { force: true });
      }
    }
    const counter = new HashingCounter();
    await pipeline(await this.blobs.get(sha256), counter, createWriteStream(target));
    return counter.digest();
  }

  /**
   * Saves each output folder as the next version of its file set (created if missing), in two
   * steps: every file is stored as a blob first (the long part), then, if `mayCommit` (asked once,
   * right before) still says so, the versions are committed. Answers undefined, with nothing
   * committed, when it did not. `owner`: the uid the job ran as, when sandboxed; only its files are
   * saved (see {@link saveFolder}).
   */
  async saveOutputs(
    work: WorkAssignment,
    workDir: string,
    attempt: number,
    owner?: number,
    mayCommit: () => Promise<boolean> = async () => true,
  ): Promise<{ fileset: string; version: number }[] | undefined> {
    const stored: { fileset: string; labels: readonly string[]; files: FileEntry[] }[] = [];
    for (const output of work.outputs) {
      if (!output.save) continue;
      stored.push({
        fileset: output.fileset,
        labels: output.labels,
        files: await this.store(work, inside(workDir, output.path), owner),
      });
    }
    if (stored.length > 0 && !(await mayCommit())) return undefined;
    const saved: { fileset: string; version: number }[] = [];
    for (const { fileset, labels, files } of stored) {
      saved.push({
        fileset,
        // One key per job, not per attempt: an earlier attempt that committed this output and
        // was lost before its success was recorded made the job's version; a later one adopts it.
        version: await this.commitFiles(
          work,
          fileset,
          files,
          labels,
          attempt,
          `${work.jobId}.output.${fileset}`,
        ),
      });
    }
    return saved;
  }

  /**
   * Commits the files under `root` as the next version of `fileset` (created if missing), with the
   * job as its creator; files of the previous version that are not in the folder are removed.
   * With `owner` (the job's uid), a file that is not a regular file of that user when it is opened
   * fails the save: a job cannot have the executor read something of someone else's for it, by a
   * link swapped in at the last moment or otherwise.
   */
  async saveFolder(
    work: WorkAssignment,
    root: string,
    fileset: string,
    labels: readonly string[],
    attempt: number,
    /** The commit's idempotency key (e.g. `<job>.<attempt>.checkpoint.3`). */
    commitId: string,
    owner?: number,
  ): Promise<number> {
    const put = await this.store(work, root, owner);
    return this.commitFiles(work, fileset, put, labels, attempt, commitId);
  }

  /** Stores every file under `root` as a blob of the project's; answers what it stored. */
  private async store(work: WorkAssignment, root: string, owner?: number): Promise<FileEntry[]> {
    const put: FileEntry[] = [];
    for await (const relative of walk(root)) {
      const { sha256, size } = await this.blobs.put(await openOwned(root, relative, owner));
      put.push({ path: relative, sha256, size, mediaType: 'application/octet-stream' });
    }
    // The executor stored these bytes itself, from the job's folder: they are the project's now
    // (a commit may name only blobs its project has). The hashes are the store's, not the job's.
    // With their sizes, which the project's storage quota counts: past it, the save is refused
    // (STORAGE_QUOTA_EXCEEDED) and the job fails as output_failed with its message.
    const stored = [...new Map(put.map((f) => [f.sha256, f.size])).entries()];
    for (let i = 0; i < stored.length; i += OWN_BATCH) {
      const batch = stored.slice(i, i + OWN_BATCH);
      await this.commands.send('ownBlobs', {
        project: work.project,
        sha256s: batch.map(([sha256]) => sha256),
        sizes: batch.map(([, size]) => size),
      });
    }
    return put;
  }

  /** Commits stored files as the next version of `fileset` (created if missing), made by the job. */
  private async commitFiles(
    work: WorkAssignment,
    fileset: string,
    put: FileEntry[],
    labels: readonly string[],
    attempt: number,
    /** Sent again after a lost answer, or by another attempt, the commit is not a second version. */
    commitId: string,
  ): Promise<number> {
    const createdBy: Creator = {
      kind: 'job',
      jobId: work.jobId,
      runId: work.runId,
      step: work.name,
      // Its step's parameters: the same for every attempt (which attempt committed it is in the log).
      parameters: { ...work.env },
      code: work.code,
    };
    try {
      await this.commands.send('createFileset', {
        project: work.project,
        request: { name: fileset, metadata: {}, labels: [] },
        createdBy,
      });
    } catch (error) {
      // Created already (by an earlier attempt, or another job writing the same output): commit on it.
      if (!isProblem(error, FilesetProblems.FILESET_EXISTS)) throw error;
    }
    return this.commit(work, fileset, put, labels, createdBy, commitId);
  }

  /** The output replaces the file set's content: files not in the folder are deleted. Retried on a race. */
  private async commit(
    work: WorkAssignment,
    fileset: string,
    put: FileEntry[],
    labels: readonly string[],
    createdBy: Creator,
    commitId: string,
  ): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.commands.send('getFileset', {
        project: work.project,
        name: fileset,
      });
      const keep = new Set(put.map((f) => f.path));
      const remove: string[] = [];
      if (current.latestVersion > 0) {
        for await (const file of this.files(work.project, fileset, current.latestVersion)) {
          if (!keep.has(file.path)) remove.push(file.path);
        }
      }
      try {
        const committed = await this.commands.send('commitVersion', {
          project: work.project,
          name: fileset,
          request: {
            parent: current.latestVersion,
            ...(await commitChanges(this.blobs, put, remove)),
            metadata: {},
            labels: [...labels],
          },
          createdBy,
          commitId,
        });
        return committed.version;
      } catch (error) {
        // Another commit came first (or kept winning the race for the file set): read the new
        // latest version and commit on it.
        const raced = isProblem(
          error,
          FilesetProblems.FILESET_PARENT_MISMATCH,
          CommonProblems.CONCURRENT_CHANGE,
        );
        if (!raced || attempt >= 5) throw error;
      }
    }
  }

  private async *files(
    project: string,
    fileset: string,
    version: number,
  ): AsyncGenerator<FileEntry> {
    let cursor: string | null = null;
    do {
      const page: Page<FileEntry> = await this.commands.send('listFiles', {
        project,
        name: fileset,
        version,
        prefix: null,
        limit: 1000,
        cursor,
      });
      yield* page.items;
      cursor = page.nextCursor;
    } while (cursor !== null);
  }
}

/** Blobs recorded as the project's per message (a bus message is at most 1 MiB). */
const OWN_BATCH = 5_000;

/** What copy_file_range/FICLONE answer where cloning is not possible. */
const CLONE_UNSUPPORTED = new Set(['ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'EINVAL', 'ENOSYS', 'ENOTTY']);

/** `relative` resolved under `root`, refusing anything that would land outside it. */
function inside(root: string, relative: string): string {
  const target = path.resolve(root, relative);
  if (target !== root && !target.startsWith(root + path.sep)) {
    throw new StagingError(`'${relative}' would be outside the job's folder`);
  }
  return target;
}

/**
 * Opens a file of a job's folder to save it, without following a symbolic link in its last part
 * and without blocking on a FIFO; checks what was opened (not the path) is a regular file owned by
 * `owner` when one is given.
 */
async function openOwned(
  root: string,
  relative: string,
  owner: number | undefined,
): Promise<Readable> {
  const handle = await open(
    path.join(root, relative),
    constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
  ).catch((error: NodeJS.ErrnoException) => {
    throw new StagingError(
      error.code === 'ELOOP'
        ? `'${relative}' is a symbolic link; a job's outputs must be regular files`
        : `could not read '${relative}': ${error.message}`,
    );
  });
  const info = await handle.stat();
  if (!info.isFile() || (owner !== undefined && info.uid !== owner)) {
    await handle.close();
    throw new StagingError(
      info.isFile()
        ? `'${relative}' belongs to uid ${info.uid}, not to the job's user ${owner}: only files the job wrote are saved`
        : `'${relative}' is not a regular file; a job's outputs must be regular files`,
    );
  }
  return handle.createReadStream({ highWaterMark: 1024 * 1024 });
}

/** Regular files under `root`, as '/'-separated paths relative to it; symlinks are not followed. */
async function* walk(root: string, prefix = ''): AsyncGenerator<string> {
  let entries;
  try {
    entries = await readdir(path.join(root, prefix), { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const relative = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) yield* walk(root, relative);
    else if (entry.isFile() && (await lstat(path.join(root, relative))).isFile()) yield relative;
  }
}
