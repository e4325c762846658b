import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { processAlive } from './work-folders.js';

const run = promisify(execFile);

/**
 * How jobs are kept apart from the executor and from each other:
 * - `uid`: the executor runs as root; each slot runs its jobs as its own unprivileged user
 *   (`acai-job-<uid>`, uid `base + n` for host slot n), in a private mount namespace (its own
 *   `/tmp` and `/var/tmp`, a folder of its work folder, and an empty `/dev/shm`), with no way to gain privileges, killed when the executor dies.
 * - `none`: jobs run as the executor's own user (allowed only when asked for, `ACAI_SANDBOX=none`).
 */
export type SandboxMode = 'uid' | 'none';

/** The sandbox cannot be set up as configured: the executor does not start, and says why. */
export class SandboxError extends Error {
  override readonly name = 'SandboxError';
}

/** One slot: the name its cgroups go by, and the user its jobs run as (`uid` mode). */
export interface Slot {
  readonly name: string;
  readonly user: { readonly name: string; readonly uid: number; readonly gid: number } | null;
}

/** How one job is launched: the argv and the (clean) environment the executor spawns it with. */
export interface Launch {
  readonly argv: string[];
  readonly env: Record<string, string>;
  /**
   * Files handed to the first step as fds 3, 4, …: each is opened and removed before it starts
   * (the job's environment file, fd 3), so no one finds it in the folder later.
   */
  readonly handOver: string[];
}

/** The PATH of the programs acai itself starts a job through (never the job's own PATH). */
const SYSTEM_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The steps a job is launched through, each `exec`ing the next, so that the job keeps the first
 * one's pid (its process group and parent stay the executor's). In `uid` mode:
 * 1. `unshare` gives the job its own mount namespace (and, with `network: none`, network);
 * 2. `sh`, as the executor's user and with an environment the job has no say in (LD_PRELOAD in a
 *    step's env cannot reach it), joins the slot's cgroups before anything of the job runs, then
 *    mounts its own temp folder ({@link TMP_FOLDER} of its work folder: on disk, gone with it) on
 *    /tmp and /var/tmp and an empty tmpfs on /dev/shm, all in one `mount -a` of a table written
 *    once at start ({@link PRIVATE_MOUNTS_FILE});
 * 3. `setpriv` drops to the slot's user with no supplementary groups and no-new-privs, and sets
 *    the parent-death signal;
 * 4. `sh`, as the job's user, loads the job's environment from the file handed to it as fd 3 (so
 *    it never appears in an argv that other users could read in /proc; the executor removed the
 *    file before starting it, see {@link Launch.handOver}), and `exec`s the job's argv unchanged
 *    ("$@", no shell parsing) without that descriptor.
 * Without the sandbox, step 2 only joins the cgroups, and `setpriv` only sets the parent-death
 * signal. Every program run is an exec or two on the path of every job: a `mount` per mount point
 * and an `rm` of the environment file, as it was, cost about as much CPU as the rest of the launch.
 */
const JOIN_CGROUPS =
  'IFS=:; for f in $ACAI_CGROUP_PROCS; do echo $$ > "$f" || { echo "acai: cannot join cgroup $f" >&2; exit 125; }; done; unset ACAI_CGROUP_PROCS IFS';
const PRIVATE_MOUNTS =
  'm=$1; shift; mount --all --fstab "$m" || { echo "acai: cannot mount a private /tmp, /var/tmp or /dev/shm" >&2; exit 125; }';
const LOAD_ENV =
  '. /proc/self/fd/3 || { echo "acai: cannot read the job environment" >&2; exit 125; }; exec "$@" 3<&-';

/** The folder of a job's folder (its working directory) mounted on its /tmp and /var/tmp. */
export const TMP_FOLDER = '.tmp';

/**
 * The mount table of a sandboxed job, in the slot claims folder (the executor's only): its temp
 * folder, relative to its working directory, on /tmp and /var/tmp, and a tmpfs of its own on
 * /dev/shm (a source name of its own: `mount --all` skips what looks mounted already).
 */
export const PRIVATE_MOUNTS_FILE = 'private-mounts.fstab';

/** The name of the file in a job's folder its environment is handed over in (removed at start). */
export const ENV_FILE = '.acai-env';

/**
 * The job sandbox of one executor: decides the mode at start, claims host-wide slot numbers (so
 * that two executors on one host never share a slot user), creates the slot users, and builds the
 * launch of each job. See {@link SandboxMode}.
 */
export class Sandbox {
  private constructor(
    readonly mode: SandboxMode,
    readonly slots: readonly Slot[],
    private readonly claims: SlotClaims | undefined,
    private readonly setpriv: string | undefined,
    private readonly unshare: string | undefined,
    /** The mount table of a job's private folders (`uid` mode), see {@link PRIVATE_MOUNTS_FILE}. */
    private readonly mounts: string | undefined,
  ) {}

  /**
   * `requested`: `auto` (the default) sandboxes by uid when running as root and refuses to start
   * otherwise; `none` runs jobs as the executor's user; `uid` insists on the uid sandbox.
   */
  static async open(options: {
    requested: 'auto' | 'uid' | 'none';
    slots: number;
    /** Name of each slot's cgroups when jobs are not sandboxed (unique to this executor). */
    slotName: (index: number) => string;
    uidBase: number;
    claimsDir: string;
    isRoot?: boolean;
  }): Promise<Sandbox> {
    const isRoot = options.isRoot ?? process.getuid?.() === 0;
    const setpriv = await findSystemProgram('setpriv');
    if (options.requested === 'none') {
      const slots = Array.from({ length: options.slots }, (_, i) => ({
        name: options.slotName(i),
        user: null,
      }));
      return new Sandbox('none', slots, undefined, setpriv, undefined, undefined);
    }
    if (!isRoot) {
      throw new SandboxError(
        'the executor is not running as root, so it cannot run jobs as separate users: a job would ' +
          'run as this user and could read everything it can (keys, database and NATS credentials). ' +
          'Run the executor as root (the normal case on a node), or set ACAI_SANDBOX=none to accept ' +
          'that on a machine you trust (a laptop).',
      );
    }
    const unshare = await findSystemProgram('unshare');
    const missing = [
      ['setpriv', setpriv],
      ['unshare', unshare],
    ].filter(([, found]) => found === undefined);
    if (missing.length > 0) {
      throw new SandboxError(
        `${missing.map(([name]) => name).join(' and ')} not found (package util-linux): the ` +
          'executor needs them to run jobs as separate users. Install util-linux, or set ' +
          'ACAI_SANDBOX=none to run jobs as the executor’s own user.',
      );
    }
    const claims = new SlotClaims(options.claimsDir, options.uidBase);
    const numbers = await claims.claim(options.slots);
    const mounts = await writePrivateMounts(options.claimsDir);
    const slots = numbers.map((n) => {
      const uid = options.uidBase + n;
      return { name: slotUserName(uid), user: { name: slotUserName(uid), uid, gid: uid } };
    });
    return new Sandbox('uid', slots, claims, setpriv, unshare, mounts);
  }

  /**
   * How to spawn `argv` in `slot`, in its work folder (the working directory, which holds its
   * {@link TMP_FOLDER}): after joining `cgroupProcs` (the slot's cgroup.procs files), with the
   * environment written to `envFile` (see {@link envFileText}).
   */
  launch(
    slot: Slot,
    argv: readonly string[],
    options: {
      cgroupProcs: readonly string[];
      envFile: string;
      network: 'default' | 'none';
    },
  ): Launch {
    const steps: string[] = [];
    if (slot.user !== null) {
      steps.push(
        this.unshare!,
        '--mount',
        '--propagation',
        'private',
        ...(options.network === 'none' ? ['--net'] : []),
        '--',
        '/bin/sh',
        '-c',
        `${JOIN_CGROUPS}; ${PRIVATE_MOUNTS}; exec "$@"`,
        'acai-job',
        this.mounts!,
        this.setpriv!,
        `--reuid=${slot.user.uid}`,
        `--regid=${slot.user.gid}`,
        '--clear-groups',
        '--no-new-privs',
        '--pdeathsig=KILL',
        '--',
      );
    } else {
      steps.push('/bin/sh', '-c', `${JOIN_CGROUPS}; exec "$@"`, 'acai-job');
      // Not sandboxed: still no orphans when the executor dies.
      if (this.setpriv !== undefined) steps.push(this.setpriv, '--pdeathsig=KILL', '--');
    }
    steps.push('/bin/sh', '-c', LOAD_ENV, 'acai-job', ...argv);
    return {
      argv: steps,
      env: { PATH: SYSTEM_PATH, ACAI_CGROUP_PROCS: options.cgroupProcs.join(':') },
      handOver: [options.envFile],
    };
  }

  /**
   * The argv prefix that makes a helper process of the executor (its job spawner) die when the
   * executor does: `setpriv --pdeathsig=KILL --`, or nothing when there is no setpriv.
   */
  diesWithExecutor(): string[] {
    return this.setpriv === undefined ? [] : [this.setpriv, '--pdeathsig=KILL', '--'];
  }

  /** Why a job cannot get what it asks for here, if it cannot. */
  refuses(network: 'default' | 'none'): string | undefined {
    if (network === 'none' && this.mode !== 'uid') {
      return 'network: none needs the uid sandbox (an executor running as root); this executor runs with ACAI_SANDBOX=none';
    }
    return undefined;
  }

  /**
   * Kills every process of the slot's user (`uid` mode): what a job left running, or started in
   * the background to keep writing after it ended, is gone before its outputs are read.
   */
  async clear(slot: Slot): Promise<number> {
    return slot.user === null ? 0 : killUser(slot.user.uid);
  }

  /** Gives the slot numbers back for another executor on this host. */
  async release(): Promise<void> {
    await this.claims?.release();
  }
}

/** `acai-job-<uid>`: the user of a slot (host slot n has uid base + n). */
export function slotUserName(uid: number): string {
  return `acai-job-${uid}`;
}

/**
 * The job's environment as a file the last trampoline step sources: `export NAME='value'` lines,
 * values single-quoted (a quote inside written as '\''), so nothing in a value is interpreted.
 */
export function envFileText(env: Readonly<Record<string, string>>): string {
  let text = '';
  for (const [name, value] of Object.entries(env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new SandboxError(`environment variable name '${name}' is not a valid name`);
    }
    if (value.includes('\u0000')) {
      throw new SandboxError(`environment variable ${name} contains a NUL character`);
    }
    text += `export ${name}='${value.replaceAll("'", `'\\''`)}'\n`;
  }
  return text;
}

/**
 * Writes the mount table of a job's private folders into `dir` (see {@link PRIVATE_MOUNTS_FILE}),
 * with the mount points this host has, and answers its path. Every executor of the host writes the
 * same table, each by a rename, so none ever reads half of one.
 */
async function writePrivateMounts(dir: string): Promise<string> {
  const lines: string[] = [];
  for (const point of ['/tmp', '/var/tmp']) {
    if (await isDirectory(point)) lines.push(`${TMP_FOLDER} ${point} none bind 0 0`);
  }
  if (await isDirectory('/dev/shm')) {
    lines.push('acai-job-shm /dev/shm tmpfs mode=1777,nosuid,nodev 0 0');
  }
  const file = path.join(dir, PRIVATE_MOUNTS_FILE);
  const draft = `${file}.${process.pid}`;
  await writeFile(draft, lines.map((l) => `${l}\n`).join(''), { mode: 0o600 });
  await rename(draft, file);
  return file;
}

async function isDirectory(dir: string): Promise<boolean> {
  return (await stat(dir).catch(() => undefined))?.isDirectory() === true;
}

/**
 * Host-wide slot numbers, one file per claimed number in `dir` (`<n>` holding the claimer's pid),
 * changed only under a lock directory, so two executors starting at once never get the same
 * number. A number whose claimer is gone (killed) is taken over, and its user's leftover
 * processes are killed first.
 */
class SlotClaims {
  private readonly mine: number[] = [];

  constructor(
    private readonly dir: string,
    private readonly uidBase: number,
  ) {}

  async claim(count: number): Promise<number[]> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    return this.locked(async () => {
      const numbers: number[] = [];
      for (let n = 0; numbers.length < count; n++) {
        const file = path.join(this.dir, String(n));
        const owner = Number((await readFile(file, 'utf8').catch(() => '')).trim());
        if (owner > 0 && processAlive(owner)) continue;
        await ensureSlotUser(this.uidBase + n);
        await killUser(this.uidBase + n);
        await writeFile(file, `${process.pid}\n`);
        numbers.push(n);
      }
      this.mine.push(...numbers);
      return numbers;
    });
  }

  async release(): Promise<void> {
    const numbers = this.mine.splice(0);
    if (numbers.length === 0) return;
    await this.locked(async () => {
      for (const n of numbers) await rm(path.join(this.dir, String(n)), { force: true });
    });
  }

  private async locked<T>(work: () => Promise<T>): Promise<T> {
    const lock = path.join(this.dir, '.lock');
    for (let tries = 0; ; tries++) {
      try {
        await mkdir(lock);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        // A claimer killed while holding it: a claim takes milliseconds, so 30 s means stale.
        const age = Date.now() - ((await stat(lock).catch(() => undefined))?.mtimeMs ?? Date.now());
        if (age > 30_000) await rm(lock, { recursive: true, force: true });
        if (tries > 2_000) throw new SandboxError(`could not lock ${lock} to claim job slots`);
        await new Promise((r) => setTimeout(r, 15));
      }
    }
    try {
      return await work();
    } finally {
      await rm(lock, { recursive: true, force: true });
    }
  }
}

/**
 * Makes sure uid `uid` is the slot user `acai-job-<uid>` (group of the same name and id), creating
 * both when missing. A uid that belongs to someone else is refused: its files and processes are
 * not ours to share or kill.
 */
async function ensureSlotUser(uid: number): Promise<void> {
  const name = slotUserName(uid);
  const existing = await getent('passwd', String(uid));
  if (existing !== undefined) {
    if (existing !== name) {
      throw new SandboxError(
        `uid ${uid} belongs to user '${existing}', not to the job slot user '${name}': set ` +
          'ACAI_SANDBOX_UID_BASE to the start of a range of free uids',
      );
    }
    return;
  }
  const byName = await getent('passwd', name);
  if (byName !== undefined) {
    throw new SandboxError(
      `user '${name}' exists with another uid than ${uid}: remove it (userdel ${name}) or set ` +
        'ACAI_SANDBOX_UID_BASE to match it',
    );
  }
  if ((await getent('group', String(uid))) === undefined) {
    await run('groupadd', ['--gid', String(uid), name], { env: { PATH: SYSTEM_PATH } });
  }
  await run(
    'useradd',
    [
      '--uid',
      String(uid),
      '--gid',
      String(uid),
      '--no-create-home',
      '--home-dir',
      '/nonexistent',
      '--shell',
      '/usr/sbin/nologin',
      '--comment',
      'acai job slot',
      name,
    ],
    { env: { PATH: SYSTEM_PATH } },
  ).catch((error: unknown) => {
    throw new SandboxError(
      `could not create the job slot user ${name} (uid ${uid}) with useradd: ${error instanceof Error ? error.message : String(error)}`,
    );
  });
}

/** The name of the passwd/group entry `key` (a name or an id), or undefined when there is none. */
async function getent(database: 'passwd' | 'group', key: string): Promise<string | undefined> {
  try {
    const { stdout } = await run('getent', [database, key], { env: { PATH: SYSTEM_PATH } });
    return stdout.split(':')[0] || undefined;
  } catch {
    return undefined;
  }
}

/**
 * SIGKILLs every process whose real, effective, saved or file-system uid is `uid`, until none is
 * left (a process forking as fast as it is killed is caught on a later round). Answers how many.
 */
export async function killUser(uid: number): Promise<number> {
  let killed = 0;
  for (let round = 0; round < 50; round++) {
    const pids: number[] = [];
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const status = await readFile(`/proc/${entry}/status`, 'utf8').catch(() => '');
      const line = /^Uid:\s+(.*)$/m.exec(status)?.[1];
      const zombie = /^State:\s+Z/m.test(status);
      if (!zombie && line?.split(/\s+/).some((u) => Number(u) === uid)) pids.push(Number(entry));
    }
    if (pids.length === 0) return killed;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        killed++;
      } catch {
        // Gone already.
      }
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return killed;
}

async function findSystemProgram(name: string): Promise<string | undefined> {
  for (const dir of SYSTEM_PATH.split(':')) {
    const candidate = path.join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Next.
    }
  }
  return undefined;
}
