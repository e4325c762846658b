// The few things a job needs from acai's executor, written out by hand: the steps are ordinary
// programs (user code), so they talk to acai only through environment variables, folders and
// lines on stdout, never by importing an @acai package.
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A problem the user can fix (a parameter, a missing or malformed input): exit 1 with its text. */
export class JobError extends Error {
  override readonly name = 'JobError';
}

/** The message of anything thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The environment variable naming a file set's folder: `mnist-tensors` → ACAI_INPUT_MNIST_TENSORS. */
export function folderVariable(kind: 'INPUT' | 'OUTPUT', fileset: string): string {
  return `ACAI_${kind}_${fileset.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** The folder holding the staged files of an input file set. */
export function inputDir(fileset: string, env: NodeJS.ProcessEnv = process.env): string {
  return folderFrom('INPUT', fileset, env);
}

/** The (empty) folder whose files become the next version of an output file set on exit 0. */
export function outputDir(fileset: string, env: NodeJS.ProcessEnv = process.env): string {
  return folderFrom('OUTPUT', fileset, env);
}

function folderFrom(kind: 'INPUT' | 'OUTPUT', fileset: string, env: NodeJS.ProcessEnv): string {
  const name = folderVariable(kind, fileset);
  const value = env[name];
  if (value === undefined || value === '') {
    throw new JobError(
      `${name} is not set: declare ${kind.toLowerCase()} file set '${fileset}' in the step ` +
        `(or set ${name} to a folder when running by hand)`,
    );
  }
  return value;
}

/** The checkpoint folder, or undefined when the job runs outside acai (then: no checkpoints). */
export function checkpointDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env.ACAI_CHECKPOINT_DIR;
  return value === undefined || value === '' ? undefined : value;
}

/** The metric line the executor parses: `##acai metric loss=0.25 accuracy=0.91 step=3`. */
export function metricLine(values: Readonly<Record<string, number>>, step?: number): string {
  const pairs = Object.entries(values).map(([name, value]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(name)) throw new Error(`bad metric name '${name}'`);
    if (!Number.isFinite(value)) throw new Error(`metric ${name} is not a finite number`);
    return `${name}=${formatNumber(value)}`;
  });
  if (pairs.length === 0) throw new Error('a metric line needs at least one value');
  if (step !== undefined) {
    if (!Number.isInteger(step) || step < 0) throw new Error('step must be a whole number >= 0');
    pairs.push(`step=${step}`);
  }
  return `##acai metric ${pairs.join(' ')}`;
}

/** Six significant digits: enough for a chart, short enough to read in a log. */
function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
}

export function printMetric(values: Readonly<Record<string, number>>, step?: number): void {
  console.log(metricLine(values, step));
}

/** Tells the executor the checkpoint folder now holds a complete checkpoint of `step`. */
export function announceCheckpoint(step: number): void {
  console.log(`##acai checkpoint step=${step}`);
}

/**
 * Writes a file so that no reader (nor a resumed attempt after a crash) ever sees it half-written:
 * the bytes go to a temporary name in the same folder, are flushed, then renamed over the target,
 * which is atomic on one file system.
 */
export function writeFileAtomic(file: string, chunks: readonly Uint8Array[]): void {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = openSync(temporary, 'w');
  try {
    for (const chunk of chunks) {
      let written = 0;
      while (written < chunk.byteLength) {
        written += writeSync(fd, chunk, written, chunk.byteLength - written);
      }
    }
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temporary, { force: true });
    throw error;
  }
  closeSync(fd);
  renameSync(temporary, file);
}

interface Range {
  readonly min?: number;
  readonly max?: number;
}

/** A whole-number parameter from the environment, with its default when unset or empty. */
export function intParam(
  name: string,
  fallback: number,
  range: Range = {},
  env: NodeJS.ProcessEnv = process.env,
): number {
  const value = numberParam(name, fallback, range, env);
  if (!Number.isInteger(value))
    throw new JobError(`${name} must be a whole number, got '${value}'`);
  return value;
}

/** A numeric parameter from the environment, with its default when unset or empty. */
export function numberParam(
  name: string,
  fallback: number,
  range: Range = {},
  env: NodeJS.ProcessEnv = process.env,
): number {
  const raw = env[name]?.trim();
  // Number('') is 0, so an empty value must mean "unset" explicitly rather than "zero".
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(value)) throw new JobError(`${name} must be a number, got '${raw}'`);
  if (range.min !== undefined && value < range.min)
    throw new JobError(`${name} must be at least ${range.min}, got ${value}`);
  if (range.max !== undefined && value > range.max)
    throw new JobError(`${name} must be at most ${range.max}, got ${value}`);
  return value;
}

/**
 * The CPUs acai gave the job (ACAI_CPUS may be fractional, e.g. 0.5 or 1.5), or undefined when the
 * job was started by hand.
 */
export function grantedCpus(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env.ACAI_CPUS?.trim();
  if (raw === undefined || raw === '') return undefined;
  const cpus = Number(raw);
  if (!Number.isFinite(cpus) || cpus <= 0)
    throw new JobError(`ACAI_CPUS is not a positive number: '${raw}'`);
  return cpus;
}

/**
 * How many threads to compute with when the user does not say: the CPUs acai granted, rounded
 * (0.5 → 1, 1.5 → 2: a half CPU still runs one thread, and rounding up 1.5 costs less than leaving
 * half a core idle), or every core of the machine when run by hand.
 */
export function defaultThreads(env: NodeJS.ProcessEnv = process.env): number {
  const cpus = grantedCpus(env);
  return cpus === undefined ? os.availableParallelism() : Math.max(1, Math.round(cpus));
}

/** Peak resident memory of this process (all its threads) so far, in MB. */
export function peakRssMb(): number {
  // resourceUsage().maxRSS is in kilobytes.
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

/**
 * Runs a job's main function: a JobError prints its message alone; anything else prints its
 * stack, since it is a bug rather than a bad input. Either way the exit code is 1.
 */
export function runJob(main: () => Promise<void>): void {
  main().then(
    () => {
      process.exitCode = 0;
    },
    (error: unknown) => {
      if (error instanceof JobError) console.error(`error: ${error.message}`);
      else console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
      // exit() rather than exitCode: worker threads blocked on Atomics.wait would keep us alive.
      process.exit(1);
    },
  );
}
