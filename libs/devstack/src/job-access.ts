import { chmod, cp, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_JOB_PATH } from '@acai/contracts';

/**
 * Whether users other than this one can reach `target`: every folder on the way lets others pass
 * (x), and the target itself lets them read it. Sandboxed jobs run as such users.
 */
export async function reachableByOthers(target: string): Promise<boolean> {
  const resolved = path.resolve(target);
  try {
    if (((await stat(resolved)).mode & 0o004) === 0) return false;
  } catch {
    return false;
  }
  for (let dir = path.dirname(resolved); ; dir = path.dirname(dir)) {
    try {
      if (((await stat(dir)).mode & 0o001) === 0) return false;
    } catch {
      return false;
    }
    if (dir === path.dirname(dir)) return true;
  }
}

/**
 * The PATH for jobs on this machine: the Node that runs acai first, when jobs' users can run it
 * (so `node` in a step is the same Node 24), then the system's.
 */
export async function jobPath(node = process.execPath): Promise<string> {
  const dir = path.dirname(node);
  return (await reachableByOthers(node)) ? `${dir}:${DEFAULT_JOB_PATH}` : DEFAULT_JOB_PATH;
}

/**
 * `source` (a folder of code jobs run, such as the examples) where jobs can read it: itself when
 * they can, otherwise a copy in `copyTo` (made readable by all, node_modules left out). A checkout
 * under /root, say, is not readable by the users sandboxed jobs run as.
 */
export async function codeForJobs(source: string, copyTo: string): Promise<string> {
  // Not root: jobs run as this user (ACAI_SANDBOX=none) and read what it reads.
  if (process.getuid?.() !== 0 || (await reachableByOthers(source))) return source;
  await mkdir(copyTo, { recursive: true, mode: 0o755 });
  await cp(source, copyTo, {
    recursive: true,
    force: true,
    filter: (from) => path.basename(from) !== 'node_modules',
  });
  await chmod(copyTo, 0o755);
  return copyTo;
}
