import { createHash } from 'node:crypto';
import type {
  DeclaredOutput,
  HashedCode,
  JobSignature,
  ReusePolicy,
  StagedInput,
} from '@acai/contracts';

/**
 * Environment variables that only size a job's resources (thread pools): two runs that differ
 * only in them compute the same thing, so they are not its parameters. `ACAI_*` is acai's own.
 */
export const RESOURCE_SIZING_ENV: ReadonlySet<string> = new Set([
  'OMP_NUM_THREADS',
  'MKL_NUM_THREADS',
  'OPENBLAS_NUM_THREADS',
  'NUMEXPR_NUM_THREADS',
  'VECLIB_MAXIMUM_THREADS',
  'UV_THREADPOOL_SIZE',
  'TF_NUM_INTRAOP_THREADS',
  'TF_NUM_INTEROP_THREADS',
]);

/** A step's parameters: its environment without `ACAI_*` and the resource-sizing variables. */
export function parametersOf(env: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(env).sort()) {
    if (name.startsWith('ACAI_') || RESOURCE_SIZING_ENV.has(name)) continue;
    out[name] = env[name]!;
  }
  return out;
}

export interface SignatureInput {
  readonly command: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly secrets: Readonly<Record<string, string>>;
  readonly inputs: readonly StagedInput[];
  readonly outputs: readonly DeclaredOutput[];
  /** The code as hashed before the job is queued (see the scheduler's code hasher). */
  readonly code: readonly HashedCode[];
}

/**
 * A job's signature: a hash of its command line, its code, its parameters, its secrets' names,
 * its inputs by content (manifest hashes, wherever staged) and its declared outputs. Version
 * numbers are not part of it: the same bytes under another version number are the same input.
 */
export function signJob(job: SignatureInput): JobSignature {
  const sortedRecord = (r: Readonly<Record<string, string>>) =>
    Object.fromEntries(
      Object.keys(r)
        .sort()
        .map((k) => [k, r[k]!]),
    );
  const parts: JobSignature['parts'] = {
    argv: [...job.command],
    code: job.code.map((c) => ({ ...c })),
    parameters: parametersOf(job.env),
    secrets: sortedRecord(job.secrets),
    inputs: [...job.inputs]
      .map((i) => ({ path: i.path, manifestSha256: i.manifestSha256 }))
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    outputs: [...job.outputs]
      .map((o) => ({ fileset: o.fileset, path: o.path }))
      .sort((a, b) => (a.fileset < b.fileset ? -1 : a.fileset > b.fileset ? 1 : 0)),
  };
  const hashed = {
    v: 1,
    argv: parts.argv,
    // What was hashed and its hash: where a problem left it unhashed, only that it was not.
    code: parts.code.map((c) => [c.role, c.ref, c.sha256]),
    parameters: parts.parameters,
    secrets: parts.secrets,
    inputs: parts.inputs,
    outputs: parts.outputs,
  };
  const complete = parts.code.every((c) => c.sha256 !== null);
  return {
    sha256: createHash('sha256').update(JSON.stringify(hashed)).digest('hex'),
    parts,
    complete,
    codeSha256: complete
      ? createHash('sha256').update(JSON.stringify(hashed.code)).digest('hex')
      : null,
  };
}

/** Why a job may not take an earlier result, before any is looked for (null: it may). */
export function whyNotReusable(
  policy: ReusePolicy,
  nondeterministic: boolean,
  signature: JobSignature,
  outputs: readonly DeclaredOutput[],
): string | null {
  if (policy === 'never') return 'its step says reuse: never';
  if (!signature.complete) {
    const missing = signature.parts.code.find((c) => c.sha256 === null)!;
    return `its code could not be hashed (${missing.ref}: ${missing.problem ?? 'unknown'}), so an earlier result cannot be known to be the same`;
  }
  if (policy === 'always') return null;
  if (nondeterministic) return 'its step is marked nondeterministic (reuse: always would reuse it)';
  if (outputs.length === 0) {
    return 'it saves no outputs: it is run for what it does (reuse: always would reuse it)';
  }
  const unsaved = outputs.find((o) => !o.save);
  if (unsaved !== undefined) {
    return `its output '${unsaved.fileset}' is not saved (save: false), so there is no result to reuse`;
  }
  return null;
}

/** One part of two signatures that differs, for a person. */
export interface SignatureDifference {
  readonly part: 'argv' | 'code' | 'parameters' | 'secrets' | 'inputs' | 'outputs';
  readonly what: string;
}

/** How two signatures differ, part by part (empty: they are the same). */
export function compareSignatures(mine: JobSignature, theirs: JobSignature): SignatureDifference[] {
  const out: SignatureDifference[] = [];
  const a = mine.parts;
  const b = theirs.parts;
  if (JSON.stringify(a.argv) !== JSON.stringify(b.argv)) {
    out.push({
      part: 'argv',
      what: `command ${JSON.stringify(a.argv)} against ${JSON.stringify(b.argv)}`,
    });
  }
  const code = new Map(b.code.map((c) => [`${c.role}:${c.ref}`, c.sha256]));
  for (const c of a.code) {
    const other = code.get(`${c.role}:${c.ref}`);
    if (other === undefined) out.push({ part: 'code', what: `${c.ref} (${c.role}) is new` });
    else if (other !== c.sha256 || c.sha256 === null) {
      out.push({
        part: 'code',
        what:
          c.sha256 === null
            ? `${c.ref} could not be hashed: ${c.problem ?? 'unknown'}`
            : `${c.ref} changed (${short(other)} → ${short(c.sha256)})`,
      });
    }
    code.delete(`${c.role}:${c.ref}`);
  }
  for (const key of code.keys()) {
    out.push({ part: 'code', what: `${key.slice(key.indexOf(':') + 1)} is no longer part of it` });
  }
  diffRecord('parameters', a.parameters, b.parameters, out);
  diffRecord('secrets', a.secrets, b.secrets, out);
  const inputs = new Map(b.inputs.map((i) => [i.path, i.manifestSha256]));
  for (const i of a.inputs) {
    const other = inputs.get(i.path);
    if (other === undefined) out.push({ part: 'inputs', what: `input ${i.path} is new` });
    else if (other !== i.manifestSha256) {
      out.push({
        part: 'inputs',
        what: `input ${i.path} has other content (${short(other)} → ${short(i.manifestSha256)})`,
      });
    }
    inputs.delete(i.path);
  }
  for (const path of inputs.keys()) out.push({ part: 'inputs', what: `input ${path} is gone` });
  if (JSON.stringify(a.outputs) !== JSON.stringify(b.outputs)) {
    out.push({
      part: 'outputs',
      what: `outputs ${a.outputs.map((o) => o.fileset).join(', ') || 'none'} against ${b.outputs.map((o) => o.fileset).join(', ') || 'none'}`,
    });
  }
  return out;
}

function diffRecord(
  part: 'parameters' | 'secrets',
  a: Readonly<Record<string, string>>,
  b: Readonly<Record<string, string>>,
  out: SignatureDifference[],
): void {
  for (const name of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = a[name];
    const y = b[name];
    if (x === y) continue;
    out.push({
      part,
      what:
        y === undefined
          ? `${name}=${x} is new`
          : x === undefined
            ? `${name} (was ${y}) is gone`
            : `${name}=${x} (was ${y})`,
    });
  }
}

const short = (sha: string | null | undefined) => (sha == null ? 'none' : sha.slice(0, 12));
