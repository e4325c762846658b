import { createHash } from 'node:crypto';
import { AcaiError, ProvisioningProblems } from '@acai/contracts';
import type { Offer } from './offers.js';

export interface ProfilingGridOptions {
  /** How many configurations to profile on. Default 3: the fewest that show a curve, not a line. */
  readonly count?: number;
  /** Offers with less memory are left out (the job's request, or its memory floor). */
  readonly minMemoryMb?: number;
}

/**
 * The configurations a job template is profiled on: `count` offers spread evenly over the distinct
 * vCPU counts among the offers with enough memory (smallest, middle and largest for 3), so the
 * runtime model sees how the job scales with CPUs. For each vCPU count the fastest per vCPU is
 * taken, then the cheapest, then by name: burstable types are avoided where a steady one exists,
 * because a short profiling run bursts on its launch credits and would measure full speed where a
 * long run gets the baseline.
 *
 * The grid varies CPUs (and, across instance sizes, memory with them). If memory is also a model
 * feature it moves together with CPU on such a grid; the model notes that, and the caller may fit
 * on CPU and the size parameters only.
 * @returns fewer than `count` offers when there are fewer distinct vCPU counts; none when no offer
 * has enough memory.
 * @throws AcaiError `VALUE_OUT_OF_RANGE` when `count` is not a positive integer.
 */
export function profilingGrid(
  offers: readonly Offer[],
  options: ProfilingGridOptions = {},
): Offer[] {
  const count = options.count ?? 3;
  if (!Number.isInteger(count) || count < 1) {
    throw new AcaiError(
      ProvisioningProblems.VALUE_OUT_OF_RANGE,
      `The profiling grid needs a positive whole count, got ${count}`,
      [{ path: 'count', message: 'must be a positive integer' }],
    );
  }
  const minMemoryMb = options.minMemoryMb ?? 0;
  const bestByCpu = new Map<number, Offer>();
  for (const offer of offers) {
    if (offer.memoryMb < minMemoryMb) continue;
    const current = bestByCpu.get(offer.vCpu);
    if (current === undefined || better(offer, current)) bestByCpu.set(offer.vCpu, offer);
  }
  const cpus = [...bestByCpu.keys()].sort((a, b) => a - b);
  if (cpus.length <= count) return cpus.flatMap((cpu) => pick(bestByCpu, cpu));
  // Evenly spaced positions over the sorted vCPU counts, both ends included.
  const chosen = new Set<number>();
  for (let i = 0; i < count; i++) {
    const index = count === 1 ? 0 : Math.round((i * (cpus.length - 1)) / (count - 1));
    const cpu = cpus[index];
    if (cpu !== undefined) chosen.add(cpu);
  }
  return [...chosen].sort((a, b) => a - b).flatMap((cpu) => pick(bestByCpu, cpu));
}

/** What identifies a job template for profiling: its code and its data, not its size. */
export interface ProfileKey {
  readonly command: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /**
   * The input data: a file set and its content, named by the version's manifest sha256 when known
   * (two versions with the same files are the same data) or else its version number.
   */
  readonly inputs: readonly { readonly fileset: string; readonly version: number | string }[];
  /** Environment variables that set the job's size (e.g. `EPOCHS`): features, not identity. */
  readonly sizeParameters: readonly string[];
}

/**
 * A stable sha256 (hex) of a job's command, its environment except the size parameters, and its
 * input file-set versions. Runs of the same code on the same data share a profile, so their
 * runtimes fit one model, while runs that differ only in `EPOCHS` add points to it. Environment
 * entries and inputs are sorted first (their order does not change the job); the command's order
 * does. Different input data is a different profile: the data's size and shape drive the
 * runtime as much as the code does; a new version with the same files (a step re-run on the same
 * data) is the same data when the caller names inputs by their manifest sha256.
 */
export function profileSignature(key: ProfileKey): string {
  const size = new Set(key.sizeParameters);
  const env = Object.entries(key.env)
    .filter(([name]) => !size.has(name))
    .sort(([a], [b]) => compareText(a, b));
  const inputs = key.inputs
    .map((i): [string, string] => [i.fileset, String(i.version)])
    .sort(([fa, va], [fb, vb]) => compareText(fa, fb) || compareText(va, vb));
  // A tagged array, not an object: JSON arrays keep their order, so the text is canonical.
  const canonical = JSON.stringify(['acai-profile/v1', [...key.command], env, inputs]);
  return createHash('sha256').update(canonical).digest('hex');
}

/**
 * The size parameters of a job as runtime-model features, read from its environment:
 * `numericFeatures({ EPOCHS: '3', LR: '0.1' }, ['EPOCHS'])` → `{ EPOCHS: 3 }`.
 * @throws AcaiError `SIZE_PARAMETER_INVALID` naming a size parameter that is missing or not a positive
 * number (the model takes logarithms).
 */
export function numericFeatures(
  env: Readonly<Record<string, string>>,
  sizeParameters: readonly string[],
): Record<string, number> {
  const features: Record<string, number> = {};
  for (const name of sizeParameters) {
    const text = env[name];
    if (text === undefined) {
      throw new AcaiError(
        ProvisioningProblems.SIZE_PARAMETER_INVALID,
        `Size parameter ${name} is not set in the job's environment`,
        [{ path: `env.${name}`, message: 'missing' }],
      );
    }
    const value = text.trim() === '' ? Number.NaN : Number(text);
    if (!Number.isFinite(value) || value <= 0) {
      throw new AcaiError(
        ProvisioningProblems.SIZE_PARAMETER_INVALID,
        `Size parameter ${name} must be a positive number to predict the runtime from it, got '${text}'`,
        [{ path: `env.${name}`, message: 'must be a positive number' }],
      );
    }
    features[name] = value;
  }
  return features;
}

/** Faster per vCPU first, then cheaper, then by name and pool-relevant fields, for determinism. */
function better(a: Offer, b: Offer): boolean {
  if (a.speed !== b.speed) return a.speed > b.speed;
  if (a.pricePerHour !== b.pricePerHour) return a.pricePerHour < b.pricePerHour;
  const byName = compareText(a.name, b.name) || compareText(a.provider, b.provider);
  if (byName !== 0) return byName < 0;
  return !a.spot && b.spot;
}

function pick(byCpu: ReadonlyMap<number, Offer>, cpu: number): Offer[] {
  const offer = byCpu.get(cpu);
  return offer === undefined ? [] : [offer];
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
