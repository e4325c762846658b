import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Stats } from 'node:fs';
import type { HashedCode } from '@acai/contracts';

/** Programs whose first argument that is not an option is the code they run. */
const INTERPRETER =
  /^(node|nodejs|python[0-9.]*|pypy[0-9.]*|sh|bash|dash|zsh|ruby|perl|Rscript|julia|deno|bun|tsx|ts-node)$/;
/** Options after which an interpreter runs code from the command line or a module, not a file. */
const INLINE = new Set(['-c', '-e', '-m', '--eval', '-p', '--print', '-E']);

/** The most one piece of code may hold: more is not hashed (and the job is not reused). */
export const CODE_LIMITS = { files: 10_000, bytes: 1024 ** 3 } as const;

/**
 * Hashes the code a job runs, before it is queued, on the machine the scheduler runs on (where
 * the local provider's jobs run; code for other machines is named as a file-set version):
 * - each absolute path the step names in `code` (a file, or a folder: its files' paths and
 *   hashes, symbolic links as their targets, never followed);
 * - the program (an absolute path, or found on the jobs' PATH);
 * - for an interpreter (node, python, sh...), its script when that is an absolute path.
 *
 * A relative program or script lies in the job's own folder, where only its inputs are, and those
 * are in the signature by content. Only what a job's own user could read is hashed (readable by
 * all, in folders all may enter): the scheduler runs as root, and a signature must not tell one
 * project anything about a file it could not read; a path that is a link is checked where it
 * leads, as well as where it lies. Hashes are remembered by inode, size and
 * change times, so a big interpreter is read once.
 */
export class CodeHasher {
  private readonly cache = new Map<string, string>();

  /**
   * The program (found on `pathVariable`, the PATH the job gets) and script of `command`, then
   * each path in `paths`, in that order.
   */
  async hash(
    command: readonly string[],
    paths: readonly string[],
    pathVariable: string,
  ): Promise<HashedCode[]> {
    const out: HashedCode[] = [];
    const program = await this.findProgram(command[0]!, pathVariable);
    if (program !== null && !path.isAbsolute(program)) {
      // The job will not start (command_not_found); nothing known about it can be reused.
      out.push({
        ref: program,
        role: 'program',
        sha256: null,
        problem: `it is not on the jobs' PATH (${pathVariable})`,
      });
    } else if (program !== null) out.push(await this.hashOne(program, 'program'));
    const script = scriptOf(command);
    if (script !== null && path.isAbsolute(script)) out.push(await this.hashOne(script, 'script'));
    for (const p of paths) out.push(await this.hashOne(p, 'code'));
    return out;
  }

  private async hashOne(ref: string, role: HashedCode['role']): Promise<HashedCode> {
    try {
      const sha256 = await this.hashPath(path.normalize(ref));
      return { ref, role, sha256, problem: null };
    } catch (error) {
      return { ref, role, sha256: null, problem: problemOf(error) };
    }
  }

  private async hashPath(ref: string): Promise<string> {
    // Checked where a link leads, not where it lies: a link in a folder all may enter to a file in
    // one they may not would otherwise be hashed (and its signature would tell whether its content
    // is what a guess was).
    await assertJobsCanReach(ref);
    const target = await realpath(ref);
    if (target !== ref) await assertJobsCanReach(target);
    const info = await stat(target);
    if (info.isFile()) {
      assertReadableByAll(target, info);
      return this.hashFile(target, info);
    }
    if (!info.isDirectory()) throw new CodeProblem('it is neither a file nor a folder');
    assertReadableByAll(target, info);
    const lines: string[] = [];
    const budget = { files: CODE_LIMITS.files, bytes: CODE_LIMITS.bytes };
    await this.walk(target, '', lines, budget);
    lines.sort();
    return createHash('sha256').update(lines.join('\n')).digest('hex');
  }

  private async walk(
    root: string,
    relative: string,
    lines: string[],
    budget: { files: number; bytes: number },
  ): Promise<void> {
    const entries = await readdir(path.join(root, relative), { withFileTypes: true });
    for (const entry of entries) {
      const rel = relative === '' ? entry.name : `${relative}/${entry.name}`;
      const full = path.join(root, rel);
      if ((budget.files -= 1) < 0) {
        throw new CodeProblem(`it holds more than ${CODE_LIMITS.files} files`);
      }
      const info = await lstat(full);
      if (info.isSymbolicLink()) {
        lines.push(`${rel}\u0000link\u0000${await readlink(full)}`);
      } else if (info.isDirectory()) {
        assertReadableByAll(full, info);
        await this.walk(root, rel, lines, budget);
      } else if (info.isFile()) {
        assertReadableByAll(full, info);
        if ((budget.bytes -= info.size) < 0) {
          throw new CodeProblem(`it holds more than ${CODE_LIMITS.bytes / 1024 ** 2} MiB`);
        }
        lines.push(`${rel}\u0000${await this.hashFile(full, info)}`);
      }
    }
  }

  private async hashFile(file: string, info: Stats): Promise<string> {
    const key = `${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
    const sha = hash.digest('hex');
    this.cache.set(key, sha);
    if (this.cache.size > 50_000) this.cache.delete(this.cache.keys().next().value!);
    return sha;
  }

  /** The program as exec finds it on the jobs' PATH (null: relative to the job's folder). */
  private async findProgram(program: string, pathVariable: string): Promise<string | null> {
    if (path.isAbsolute(program)) return program;
    if (program.includes('/')) return null;
    for (const dir of pathVariable.split(':').filter((d) => path.isAbsolute(d))) {
      const candidate = path.join(dir, program);
      try {
        const info = await stat(candidate);
        if (info.isFile() && (info.mode & 0o111) !== 0) return candidate;
      } catch {
        // Not in this folder of the PATH.
      }
    }
    // Not found: the job will fail to start (command_not_found); its signature says so.
    return program;
  }
}

/** The script an interpreter is given: its first argument that is not an option (null: none). */
export function scriptOf(command: readonly string[]): string | null {
  if (!INTERPRETER.test(path.basename(command[0]!))) return null;
  for (const arg of command.slice(1)) {
    if (INLINE.has(arg)) return null;
    if (arg.startsWith('-')) continue;
    return arg;
  }
  return null;
}

class CodeProblem extends Error {}

/** Every folder above `target` lets all users in: a job's user could reach it. */
async function assertJobsCanReach(target: string): Promise<void> {
  if (!path.isAbsolute(target)) throw new CodeProblem('it is not an absolute path');
  for (const top of ['/proc', '/sys', '/dev']) {
    if (target === top || target.startsWith(`${top}/`)) {
      throw new CodeProblem(`${top} is not code`);
    }
  }
  let dir = path.dirname(target);
  for (;;) {
    const info = await stat(dir);
    if ((info.mode & 0o001) === 0) {
      throw new CodeProblem(`jobs may not enter ${dir}, so they could not read it either`);
    }
    const up = path.dirname(dir);
    if (up === dir) return;
    dir = up;
  }
}

function assertReadableByAll(file: string, info: Stats): void {
  const need = info.isDirectory() ? 0o005 : 0o004;
  if ((info.mode & need) !== need) {
    throw new CodeProblem(`${file} is not readable by all users (jobs could not read it)`);
  }
}

function problemOf(error: unknown): string {
  if (error instanceof CodeProblem) return error.message;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'it does not exist';
  if (code === 'EACCES') return 'it cannot be read';
  if (code === 'ELOOP') return 'it is a loop of links';
  return error instanceof Error ? error.message : String(error);
}
