// The few things a job needs from acai's executor, written out by hand (as in examples/mnist: the
// steps are user code, so they talk to acai only through environment variables, folders and lines
// on stdout, never by importing an @acai package).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** A problem the user can fix (a parameter, a missing or malformed input): exit 1 with its text. */
export class JobError extends Error {
  override readonly name = 'JobError';
}

/** The environment variable naming a file set's folder: `weather-split` → ACAI_INPUT_WEATHER_SPLIT. */
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

/** Reads `file` of an input folder as JSON, saying which file when it is missing or malformed. */
export function readJson(folder: string, file: string): unknown {
  const full = path.join(folder, file);
  try {
    return JSON.parse(readFileSync(full, 'utf8')) as unknown;
  } catch (error) {
    throw new JobError(
      `cannot read ${full}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

/** Writes JSON into an output folder; the same value always gives the same bytes. */
export function writeJson(folder: string, file: string, value: unknown): void {
  writeFileSync(path.join(folder, file), JSON.stringify(value) + '\n');
}

/** The metric line the executor parses: `##acai metric rmse=2.41 step=0`. */
export function metricLine(values: Readonly<Record<string, number>>, step?: number): string {
  const pairs = Object.entries(values).map(([name, value]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(name)) throw new Error(`bad metric name '${name}'`);
    if (!Number.isFinite(value)) throw new Error(`metric ${name} is not a finite number`);
    return `${name}=${Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)))}`;
  });
  if (pairs.length === 0) throw new Error('a metric line needs at least one value');
  if (step !== undefined) pairs.push(`step=${step}`);
  return `##acai metric ${pairs.join(' ')}`;
}

export function printMetric(values: Readonly<Record<string, number>>, step?: number): void {
  console.log(metricLine(values, step));
}

interface Range {
  readonly min?: number;
  readonly max?: number;
}

/** A numeric parameter from the environment, with its default when unset or empty. */
export function numberParam(
  name: string,
  fallback: number,
  range: Range = {},
  env: NodeJS.ProcessEnv = process.env,
): number {
  const raw = env[name]?.trim();
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(value)) throw new JobError(`${name} must be a number, got '${raw}'`);
  if (range.min !== undefined && value < range.min)
    throw new JobError(`${name} must be at least ${range.min}, got ${value}`);
  if (range.max !== undefined && value > range.max)
    throw new JobError(`${name} must be at most ${range.max}, got ${value}`);
  return value;
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

/** One of a few words from the environment, with its default when unset or empty. */
export function choiceParam<T extends string>(
  name: string,
  choices: readonly T[],
  fallback: T,
  env: NodeJS.ProcessEnv = process.env,
): T {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const found = choices.find((c) => c === raw);
  if (found === undefined)
    throw new JobError(`${name} must be one of ${choices.join(', ')}, got '${raw}'`);
  return found;
}

/**
 * Runs a job's main function: a JobError prints its message alone; anything else prints its
 * stack, since it is a bug rather than a bad input. Either way the exit code is 1.
 */
export function runJob(main: () => void | Promise<void>): void {
  Promise.resolve()
    .then(main)
    .then(
      () => {
        process.exitCode = 0;
      },
      (error: unknown) => {
        if (error instanceof JobError) console.error(`error: ${error.message}`);
        else console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
        process.exitCode = 1;
      },
    );
}
