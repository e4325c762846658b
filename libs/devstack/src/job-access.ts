import { chmod, cp, mkdir, readdir, readFile, stat } from 'node:fs/promises';
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
  await copyDependencies(source, copyTo);
  await chmod(copyTo, 0o755);
  return copyTo;
}

/**
 * Copies the packages that the examples in `source` (its folders with a package.json) depend on,
 * other than acai's own, into `copyTo/node_modules`: the copy leaves `node_modules` out, and
 * without them a step such as the flights3m load (which reads Parquet with `hyparquet`) could not
 * start. Returns the packages copied; one that is not installed is left for the job to name.
 */
export async function copyDependencies(source: string, copyTo: string): Promise<string[]> {
  const copied: string[] = [];
  for (const entry of await readdir(source, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    let manifest: { dependencies?: Record<string, string> };
    try {
      manifest = JSON.parse(
        await readFile(path.join(source, entry.name, 'package.json'), 'utf8'),
      ) as typeof manifest;
    } catch {
      continue;
    }
    for (const name of Object.keys(manifest.dependencies ?? {})) {
      if (name.startsWith('@acai/') || copied.includes(name)) continue;
      const found = await installedPackage(path.join(source, entry.name), name);
      if (found === undefined) continue;
      await cp(found, path.join(copyTo, 'node_modules', name), {
        recursive: true,
        force: true,
        dereference: true,
      });
      copied.push(name);
    }
  }
  return copied;
}

/** Where Node would find package `name` from `from`: the nearest `node_modules/name` above it. */
async function installedPackage(from: string, name: string): Promise<string | undefined> {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    try {
      await stat(path.join(candidate, 'package.json'));
      return candidate;
    } catch {
      // Not here: one folder up.
    }
    if (dir === path.dirname(dir)) return undefined;
  }
}
