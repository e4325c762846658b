import { AcaiError, ProvisioningProblems } from '@acai/contracts';
import { leastSquares } from './linear.js';
import { mape, type RuntimeObservation } from './runtime-model.js';

/**
 * ACAI's log-linear runtime model with one change, in how runtime depends on CPUs:
 *
 *   ln T = c(cpu) + Σ bᵢ·(ln xᵢ − ln x̄ᵢ)
 *
 * The size parameters xᵢ (EPOCHS, rows, …) enter log-linearly, as in ACAI. The CPU term c is not
 * one straight line in ln cpu but a curve through the CPU counts that were measured, joined by
 * straight pieces in ln cpu. Why: a CPU quota below one core slows a single-threaded step
 * exactly in proportion, while above one core the same program gains only what its threads can
 * use (here 1.6× from the second core); one slope cannot fit both, and a model that got the
 * slope wrong picked half a core for MNIST training (27% error, measured). With the levels
 * profiled it is exact there, and in between it interpolates.
 *
 * Outside the measured CPU range the nearest piece's slope continues, bounded to [−1, 0]: more
 * CPUs never make a job slower and never more than proportionally faster.
 */
export interface CpuCurveModel {
  readonly kind: 'cpu-curve';
  /** ln T at each measured CPU count, at the reference size; sorted by cpu. */
  readonly levels: readonly { readonly cpu: number; readonly lnSeconds: number }[];
  /** Size features (sorted) and their slopes bᵢ; 0 for one that never varied. */
  readonly sizeFeatures: readonly string[];
  readonly slopes: readonly number[];
  /** ln x̄ᵢ: the mean ln of each size feature over the observations (the reference size). */
  readonly reference: readonly number[];
  readonly n: number;
  /** Mean absolute percentage error on the observations it was fitted on (a fraction). */
  readonly mape: number;
  readonly notes: readonly string[];
}

/** The feature holding the configuration's vCPUs (the model is of vCPUs at speed 1; see `placement.ts`). */
export const CPU_FEATURE = 'cpu';

/**
 * Fits the model on observations whose features include `cpu` and the size parameters. Needs
 * at least two different CPU counts (otherwise how runtime scales with CPUs is unknown).
 * @throws AcaiError `RUNTIME_MODEL_UNFIT` when it cannot be fitted, saying why.
 */
export function fitCpuCurveModel(observations: readonly RuntimeObservation[]): CpuCurveModel {
  const cpus = [...new Set(observations.map((o) => cpuOf(o.features)))].sort((a, b) => a - b);
  if (cpus.length < 2) {
    throw new AcaiError(
      ProvisioningProblems.RUNTIME_MODEL_UNFIT,
      `A runtime model needs runs on at least two CPU counts; these ran on ${cpus.join(', ') || 'none'}`,
    );
  }
  const sizeFeatures = [...new Set(observations.flatMap((o) => Object.keys(o.features)))]
    .filter((f) => f !== CPU_FEATURE)
    .sort();
  const notes: string[] = [];
  const lnSize = observations.map((o, i) =>
    sizeFeatures.map((f) => {
      const value = o.features[f];
      if (value === undefined || !(value > 0)) {
        throw new AcaiError(
          ProvisioningProblems.RUNTIME_MODEL_UNFIT,
          `Observation ${i} has no positive ${f}: every run of a profile needs every size parameter`,
        );
      }
      return Math.log(value);
    }),
  );
  const reference = sizeFeatures.map(
    (_, j) => lnSize.reduce((a, row) => a + (row[j] ?? 0), 0) / observations.length,
  );
  const varies = sizeFeatures.map((f, j) => {
    const values = lnSize.map((row) => row[j] ?? 0);
    const moved = Math.max(...values) - Math.min(...values) > 1e-9;
    if (!moved)
      notes.push(`${f} had one value in every run: its effect is unknown (taken as none)`);
    return moved;
  });
  const learnt = sizeFeatures.flatMap((_, j) => (varies[j] ? [j] : []));
  const rows = observations.map((o, i) => [
    ...cpus.map((c) => (cpuOf(o.features) === c ? 1 : 0)),
    ...learnt.map((j) => (lnSize[i]?.[j] ?? 0) - (reference[j] ?? 0)),
  ]);
  const y = observations.map((o, i) => {
    if (!(o.seconds > 0))
      throw new AcaiError(
        ProvisioningProblems.RUNTIME_MODEL_UNFIT,
        `Observation ${i} has no positive runtime`,
      );
    return Math.log(o.seconds);
  });
  // A whisper of ridge on the slopes keeps an underdetermined fit solvable; levels are free.
  const ridge = [...cpus.map(() => 0), ...learnt.map(() => 1e-6 * observations.length)];
  const solution = leastSquares(rows, y, { ridge });
  if (solution === undefined) {
    throw new AcaiError(
      ProvisioningProblems.RUNTIME_MODEL_UNFIT,
      'The runtime model could not be solved from these runs: profile the job on more configurations',
    );
  }
  const slopes = sizeFeatures.map((_, j) => {
    const at = learnt.indexOf(j);
    return at < 0 ? 0 : (solution[cpus.length + at] ?? 0);
  });
  const model: CpuCurveModel = {
    kind: 'cpu-curve',
    levels: cpus.map((cpu, i) => ({ cpu, lnSeconds: solution[i] ?? 0 })),
    sizeFeatures,
    slopes,
    reference,
    n: observations.length,
    mape: 0,
    notes,
  };
  const fitted = mape(
    observations.map((o) => ({ predicted: predictCpuCurve(model, o.features), actual: o.seconds })),
  );
  return { ...model, mape: fitted };
}

/** Predicted seconds for a configuration's CPUs and the job's size parameters. */
export function predictCpuCurve(
  model: CpuCurveModel,
  features: Readonly<Record<string, number>>,
): number {
  const cpu = cpuOf(features);
  let ln = lnAtCpu(model.levels, cpu);
  model.sizeFeatures.forEach((f, j) => {
    const value = features[f];
    if (value === undefined || !(value > 0)) {
      throw new AcaiError(
        ProvisioningProblems.SIZE_PARAMETER_INVALID,
        `The prediction needs a positive ${f}, a size parameter of the profiled runs: set it in the job's environment`,
      );
    }
    ln += (model.slopes[j] ?? 0) * (Math.log(value) - (model.reference[j] ?? 0));
  });
  return Math.exp(ln);
}

function lnAtCpu(levels: CpuCurveModel['levels'], cpu: number): number {
  const x = Math.log(cpu);
  const first = levels[0];
  const last = levels[levels.length - 1];
  if (first === undefined || last === undefined) throw new Error('a model has levels');
  for (let i = 1; i < levels.length; i++) {
    const a = levels[i - 1];
    const b = levels[i];
    if (a === undefined || b === undefined) continue;
    if (cpu <= b.cpu && cpu >= a.cpu) {
      const t = (x - Math.log(a.cpu)) / (Math.log(b.cpu) - Math.log(a.cpu));
      return a.lnSeconds + t * (b.lnSeconds - a.lnSeconds);
    }
  }
  const [a, b] = cpu < first.cpu ? [levels[0], levels[1]] : [levels.at(-2), levels.at(-1)];
  if (a === undefined || b === undefined) throw new Error('a model has two levels');
  const slope = Math.min(
    0,
    Math.max(-1, (b.lnSeconds - a.lnSeconds) / (Math.log(b.cpu) - Math.log(a.cpu))),
  );
  const from = cpu < first.cpu ? first : last;
  return from.lnSeconds + slope * (x - Math.log(from.cpu));
}

function cpuOf(features: Readonly<Record<string, number>>): number {
  const cpu = features[CPU_FEATURE];
  if (cpu === undefined || !(cpu > 0)) {
    throw new AcaiError(
      ProvisioningProblems.RUNTIME_MODEL_UNFIT,
      'Every run needs a positive cpu feature',
    );
  }
  return cpu;
}

/**
 * How far off the model is likely to be on a run it has not seen: leave-one-out cross-validation,
 * each observation predicted by the model fitted on all the others (MAPE, a fraction). Unlike the
 * model's `mape` (measured on the runs it was fitted to, nearly 0 when it has as many levels as
 * runs) it grows when a single run decides a slope, which is exactly when a prediction far from
 * the measured sizes is a guess. Undefined when no observation can be left out and still leave a
 * model (fewer than two CPU counts remain).
 */
export function crossValidatedError(
  observations: readonly RuntimeObservation[],
): number | undefined {
  const pairs: { predicted: number; actual: number }[] = [];
  observations.forEach((left, i) => {
    const rest = observations.filter((_, j) => j !== i);
    if (new Set(rest.map((o) => o.features[CPU_FEATURE])).size < 2) return;
    try {
      pairs.push({
        predicted: predictCpuCurve(fitCpuCurveModel(rest), left.features),
        actual: left.seconds,
      });
    } catch {
      // The rest cannot be fitted (or cannot predict this one): it tells nothing.
    }
  });
  return pairs.length === 0 ? undefined : mape(pairs);
}

/**
 * The size parameters of a job that lie outside what the model measured, with the measured range:
 * a prediction for them extrapolates the fitted power law.
 */
export function extrapolatedSizes(
  observations: readonly RuntimeObservation[],
  size: Readonly<Record<string, number>>,
): {
  readonly feature: string;
  readonly value: number;
  readonly min: number;
  readonly max: number;
}[] {
  return Object.entries(size).flatMap(([feature, value]) => {
    const seen = observations.flatMap((o) => {
      const v = o.features[feature];
      return v === undefined ? [] : [v];
    });
    if (seen.length === 0) return [];
    const min = Math.min(...seen);
    const max = Math.max(...seen);
    return value < min || value > max ? [{ feature, value, min, max }] : [];
  });
}
