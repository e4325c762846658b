import { constants } from 'node:fs';
import { access, mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Resources } from '@acai/contracts';

/** How limits are enforced on this node. */
export type LimitMode = 'cgroup-v2' | 'cgroup-v1' | 'none';

/** A job's process, prepared to run under its limits. */
export interface Confined {
  /** The argv to spawn: the job's own, behind a tiny trampoline that joins the cgroups first. */
  readonly argv: string[];
  readonly env: Record<string, string>;
  /** True when the kernel killed the job for using more memory than it was given. */
  outOfMemory(): Promise<boolean>;
  /** Removes the job's cgroups once its processes are gone. */
  release(): Promise<void>;
}

/**
 * Trampoline run as `sh -c TRAMPOLINE acai-limits <argv...>`: it moves itself into each cgroup
 * listed in ACAI_CGROUP_PROCS, then execs the job's argv unchanged ("$@", no shell parsing), so
 * the job starts already confined and keeps the trampoline's pid.
 */
const TRAMPOLINE =
  'IFS=:; for f in $ACAI_CGROUP_PROCS; do echo $$ > "$f" || { echo "acai: cannot join cgroup $f" >&2; exit 125; }; done; unset ACAI_CGROUP_PROCS; exec "$@"';

/**
 * Enforces a job's CPU and memory with cgroups: a CPU quota (cfs quota / cpu.max) and a memory
 * limit that the kernel enforces by killing the job (reported as `out_of_memory`). Works with
 * cgroup v2 and v1 when the executor may create cgroups (as root, or with a delegated subtree);
 * otherwise limits are only announced to the job (ACAI_CPUS, OMP_NUM_THREADS) and the mode is `none`.
 */
export class Limits {
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

  async confine(id: string, argv: readonly string[], resources: Resources): Promise<Confined> {
    const memoryBytes = Math.floor(resources.memoryMb * 1024 * 1024);
    const period = 100_000;
    const quota = Math.max(1_000, Math.round(resources.cpu * period));
    const env = { ...Limits.threadEnv(resources), ACAI_LIMITS: this.mode };
    switch (this.mode) {
      case 'cgroup-v2': {
        const dir = path.join(this.root, 'acai', id);
        await mkdir(dir, { recursive: true });
        await writeFile(path.join(dir, 'memory.max'), String(memoryBytes));
        await writeFile(path.join(dir, 'memory.swap.max'), '0').catch(() => undefined);
        await writeFile(path.join(dir, 'cpu.max'), `${quota} ${period}`);
        return this.confined(argv, env, [dir], async () =>
          counter(path.join(dir, 'memory.events'), 'oom_kill'),
        );
      }
      case 'cgroup-v1': {
        const memory = path.join(this.root, 'memory', 'acai', id);
        const cpu = path.join(this.root, 'cpu', 'acai', id);
        await mkdir(memory, { recursive: true });
        await mkdir(cpu, { recursive: true });
        await writeFile(path.join(memory, 'memory.limit_in_bytes'), String(memoryBytes));
        await writeFile(
          path.join(memory, 'memory.memsw.limit_in_bytes'),
          String(memoryBytes),
        ).catch(() => undefined);
        await writeFile(path.join(cpu, 'cpu.cfs_period_us'), String(period));
        await writeFile(path.join(cpu, 'cpu.cfs_quota_us'), String(quota));
        return this.confined(argv, env, [memory, cpu], async () => {
          const kills = await counter(path.join(memory, 'memory.oom_control'), 'oom_kill');
          return kills || (await counter(path.join(memory, 'memory.failcnt'), null));
        });
      }
      case 'none':
        return {
          argv: [...argv],
          env,
          outOfMemory: async () => false,
          release: async () => undefined,
        };
      default: {
        const _exhaustive: never = this.mode;
        return _exhaustive;
      }
    }
  }

  private confined(
    argv: readonly string[],
    env: Record<string, string>,
    dirs: string[],
    outOfMemory: () => Promise<boolean>,
  ): Confined {
    return {
      argv: ['/bin/sh', '-c', TRAMPOLINE, 'acai-limits', ...argv],
      env: { ...env, ACAI_CGROUP_PROCS: dirs.map((d) => path.join(d, 'cgroup.procs')).join(':') },
      outOfMemory,
      release: async () => {
        for (const dir of dirs) {
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
      },
    };
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

/** A counter from a cgroup file: `key N` on some line, or (key null) the whole file as a number; > 0. */
async function counter(file: string, key: string | null): Promise<boolean> {
  try {
    const text = await readFile(file, 'utf8');
    if (key === null) return Number(text.trim()) > 0;
    const line = text.split('\n').find((l) => l.startsWith(`${key} `));
    return line !== undefined && Number(line.split(' ')[1]) > 0;
  } catch {
    return false;
  }
}

/**
 * Finds a program as exec would: a path with '/' as it is, otherwise the first executable match on
 * PATH. Undefined when there is none (the job then fails with `command_not_found`, as it would
 * without the trampoline).
 */
export async function findProgram(
  program: string,
  pathVariable: string | undefined,
  cwd: string,
): Promise<string | undefined> {
  const candidates = program.includes('/')
    ? [path.resolve(cwd, program)]
    : (pathVariable ?? '')
        .split(':')
        .filter((d) => d !== '')
        .map((d) => path.join(d, program));
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Try the next one.
    }
  }
  return undefined;
}
