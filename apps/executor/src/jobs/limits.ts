import { constants } from 'node:fs';
import { access, mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Resources } from '@acai/contracts';

/** How limits are enforced on this node. */
export type LimitMode = 'cgroup-v2' | 'cgroup-v1' | 'none';

/** A job's process, prepared to run under its limits. */
export interface Confined {
  /** The cgroup.procs files the job joins before it runs (see the sandbox's trampoline). */
  readonly cgroupProcs: string[];
  readonly env: Record<string, string>;
  /** True when the kernel killed the job for using more memory than it was given. */
  outOfMemory(): Promise<boolean>;
}

/**
 * Enforces a job's CPU and memory with cgroups: a CPU quota (cfs quota / cpu.max) and a memory
 * limit that the kernel enforces by killing the job (reported as `out_of_memory`). Works with
 * cgroup v2 and v1 when the executor may create cgroups (as root, or with a delegated subtree);
 * otherwise limits are only announced to the job (ACAI_CPUS, OMP_NUM_THREADS) and the mode is
 * `none`. Each slot of the executor has its cgroups, made once and reused job after job (making
 * and removing them per job doubled the cost of a short job): a job rewrites its slot's limits,
 * and out-of-memory is the slot's kill counter moving while the job ran.
 */
export class Limits {
  /** What each slot's cgroups were last set to, so a job like the one before writes nothing. */
  private readonly written = new Map<string, string>();

  private constructor(
    readonly mode: LimitMode,
    private readonly root: string,
  ) {}

  static async detect(root = '/sys/fs/cgroup'): Promise<Limits> {
    if (await writable(path.join(root, 'cgroup.subtree_control'))) {
      try {
        await mkdir(path.join(root, 'acai'), { recursive: true });
        await writeFile(path.join(root, 'cgroup.subtree_control'), '+memory +cpu').catch(
          () => undefined,
        );
        await writeFile(path.join(root, 'acai', 'cgroup.subtree_control'), '+memory +cpu');
        return new Limits('cgroup-v2', root);
      } catch {
        // Not delegated to us: fall through.
      }
    }
    if ((await writable(path.join(root, 'memory'))) && (await writable(path.join(root, 'cpu')))) {
      try {
        await mkdir(path.join(root, 'memory', 'acai'), { recursive: true });
        await mkdir(path.join(root, 'cpu', 'acai'), { recursive: true });
        return new Limits('cgroup-v1', root);
      } catch {
        // Read-only: fall through.
      }
    }
    return new Limits('none', root);
  }

  /** Threads a job should use for `cpu` CPUs, told to the usual math libraries. */
  static threadEnv(resources: Resources): Record<string, string> {
    const threads = String(Math.max(1, Math.ceil(resources.cpu)));
    return { OMP_NUM_THREADS: threads, MKL_NUM_THREADS: threads, OPENBLAS_NUM_THREADS: threads };
  }

  /** Confines one job in `slot` (a name unique on this host, e.g. `acai-job-61003`). */
  async confine(slot: string, resources: Resources): Promise<Confined> {
    const memoryBytes = String(Math.floor(resources.memoryMb * 1024 * 1024));
    const period = 100_000;
    const quota = Math.max(1_000, Math.round(resources.cpu * period));
    const env = { ...Limits.threadEnv(resources), ACAI_LIMITS: this.mode };
    const dirs = this.slotDirs(slot);
    const settings = `${memoryBytes}/${quota}`;
    const unchanged = this.written.get(slot) === settings;
    if (!unchanged) for (const dir of dirs) await mkdir(dir, { recursive: true });
    let outOfMemory: () => Promise<boolean>;
    switch (this.mode) {
      case 'cgroup-v2': {
        const [dir] = dirs as [string];
        if (!unchanged) {
          await writeFile(path.join(dir, 'memory.max'), memoryBytes);
          await writeFile(path.join(dir, 'memory.swap.max'), '0').catch(() => undefined);
          await writeFile(path.join(dir, 'cpu.max'), `${quota} ${period}`);
        }
        const events = path.join(dir, 'memory.events');
        const before = await counter(events, 'oom_kill');
        outOfMemory = async () => (await counter(events, 'oom_kill')) > before;
        break;
      }
      case 'cgroup-v1': {
        const [memory, cpu] = dirs as [string, string];
        if (!unchanged) {
          // Raise before lowering: the kernel refuses a memory limit below the swap limit.
          const swap = path.join(memory, 'memory.memsw.limit_in_bytes');
          await writeFile(swap, '-1').catch(() => undefined);
          await writeFile(path.join(memory, 'memory.limit_in_bytes'), memoryBytes);
          await writeFile(swap, memoryBytes).catch(() => undefined);
          await writeFile(path.join(cpu, 'cpu.cfs_period_us'), String(period));
          await writeFile(path.join(cpu, 'cpu.cfs_quota_us'), String(quota));
        }
        const control = path.join(memory, 'memory.oom_control');
        const before = await counter(control, 'oom_kill');
        outOfMemory = async () => (await counter(control, 'oom_kill')) > before;
        break;
      }
      case 'none':
        return { cgroupProcs: [], env, outOfMemory: async () => false };
      default: {
        const _exhaustive: never = this.mode;
        return _exhaustive;
      }
    }
    this.written.set(slot, settings);
    return {
      cgroupProcs: dirs.map((d) => path.join(d, 'cgroup.procs')),
      env,
      outOfMemory,
    };
  }

  /**
   * Kills whatever a finished job left running in its slot, so the next job starts alone: again
   * until the slot is empty (a process forking as it is killed is caught on a later round).
   * Answers whether it is empty (false after 50 rounds that each found someone).
   */
  async clear(slot: string): Promise<boolean> {
    for (let round = 0; round < 50; round++) {
      let found = 0;
      for (const dir of this.slotDirs(slot)) {
        const procs = await readFile(path.join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
        for (const pid of procs.split('\n').filter((p) => p !== '')) {
          found++;
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            // Gone already.
          }
        }
      }
      if (found === 0) return true;
      await new Promise((r) => setTimeout(r, 10));
    }
    return false;
  }

  /** Removes the slots' cgroups when the executor stops (they are empty by then). */
  async releaseSlots(slots: readonly string[]): Promise<void> {
    for (const slot of slots) {
      for (const dir of this.slotDirs(slot)) {
        // The kernel frees a cgroup a moment after its last process: retry briefly.
        for (let i = 0; i < 20; i++) {
          try {
            await rmdir(dir);
            break;
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code === 'ENOENT') break;
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      }
    }
  }

  private slotDirs(slot: string): string[] {
    switch (this.mode) {
      case 'cgroup-v2':
        return [path.join(this.root, 'acai', slot)];
      case 'cgroup-v1':
        return [
          path.join(this.root, 'memory', 'acai', slot),
          path.join(this.root, 'cpu', 'acai', slot),
        ];
      case 'none':
        return [];
      default: {
        const _exhaustive: never = this.mode;
        return _exhaustive;
      }
    }
  }
}

async function writable(file: string): Promise<boolean> {
  try {
    await access(file, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** A counter from a cgroup file: `key N` on some line, or (key null) the whole file as a number. */
async function counter(file: string, key: string | null): Promise<number> {
  try {
    const text = await readFile(file, 'utf8');
    if (key === null) return Number(text.trim()) || 0;
    const line = text.split('\n').find((l) => l.startsWith(`${key} `));
    return line === undefined ? 0 : Number(line.split(' ')[1]) || 0;
  } catch {
    return 0;
  }
}

/**
 * Finds a program as exec would: a path with '/' as it is, otherwise the first executable match on
 * PATH. Undefined when there is none (the job then fails with `command_not_found`, as it would
 * without the trampoline).
 */
const programs = new Map<string, { path: string; at: number }>();

export async function findProgram(
  program: string,
  pathVariable: string | undefined,
  cwd: string,
): Promise<string | undefined> {
  const key = program.includes('/')
    ? path.resolve(cwd, program)
    : `${pathVariable ?? ''}\u0000${program}`;
  const hit = programs.get(key);
  // Remembered for a few seconds: a busy executor looks up the same few programs all the time.
  if (hit !== undefined && Date.now() - hit.at < 10_000) return hit.path;
  const candidates = program.includes('/')
    ? [path.resolve(cwd, program)]
    : (pathVariable ?? '')
        .split(':')
        .filter((d) => d !== '')
        .map((d) => path.join(d, program));
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      programs.set(key, { path: candidate, at: Date.now() });
      if (programs.size > 1_000) programs.delete(programs.keys().next().value!);
      return candidate;
    } catch {
      // Try the next one.
    }
  }
  return undefined;
}
