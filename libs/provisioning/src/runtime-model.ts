import { AcaiError, ProvisioningProblems } from '@acai/contracts';
import { at, leastSquares } from './linear.js';

/** One profiled run: the features it ran with (all positive) and how long it took. */
export interface RuntimeObservation {
  /** e.g. `{ cpu: 2, memoryMb: 4096, EPOCHS: 3 }`. */
  readonly features: Readonly<Record<string, number>>;
  readonly seconds: number;
}

/**
 * ACAI's log-linear runtime model, `ln T = b0 + Σ bᵢ·ln xᵢ`, i.e. `T = e^b0 · Π xᵢ^bᵢ`: each
 * feature scales the runtime by a power law (`cpu^-0.9`: doubling the CPUs cuts the time by 46 %;
 * `EPOCHS^1`: linear in epochs). Plain JSON, so it can be stored with the profile and sent as is.
 */
export interface RuntimeModel {
  readonly kind: 'log-linear';
  /** Feature names, sorted; `coefficients` and `ranges` follow this order. */
  readonly features: readonly string[];
  /** b0. */
  readonly intercept: number;
  /** bᵢ, one per feature; 0 for a feature the observations could not teach (see `notes`). */
  readonly coefficients: readonly number[];
  /** The smallest and largest value each feature had in the observations. */
  readonly ranges: readonly { readonly min: number; readonly max: number }[];
  /** Number of observations fitted. */
  readonly n: number;
  /**
   * Mean absolute percentage error on the training observations, as a fraction (0.05 = 5 %).
   * Optimistic: it is measured on the runs the model was fitted to.
   */
  readonly mape: number;
  /**
   * True when the observations cannot determine every coefficient: fewer runs than learnable
   * features + 1, or features that moved together. The ridge term still gives an answer (the
   * smallest coefficients that fit), but it is a guess along the undetermined directions.
   */
  readonly underdetermined: boolean;
  /** Features with the same value in every observation: coefficient 0. */
  readonly constantFeatures: readonly string[];
  /** The ridge strength used (on standardised features). */
  readonly ridge: number;
  /** What a reader of the model should know about how it was fitted, in sentences. */
  readonly notes: readonly string[];
}

export interface FitOptions {
  /**
   * Ridge strength λ: the fit minimises `Σ residual² + λ·n·Σ βⱼ²` over standardised features
   * (each ln xⱼ centred and divided by its spread, so one λ treats every feature alike whatever its
   * units). The default, 1e-6, is too small to bias a well-posed fit measurably and just large
   * enough to keep an underdetermined one solvable.
   */
  readonly ridge?: number;
  /** The features to fit; default every feature the observations have. */
  readonly features?: readonly string[];
}

export const DEFAULT_RIDGE = 1e-6;

/** A feature counts as constant when its ln values span less than this (relative change ~1e-9). */
const CONSTANT_SPAN = 1e-9;
/** Two features whose ln values correlate beyond this cannot be told apart. */
const COLLINEAR = 1 - 1e-9;

/**
 * Fits the log-linear runtime model by least squares on the normal equations, with a small ridge
 * term, solved by Gaussian elimination with partial pivoting. The intercept is not penalised
 * (features and ln T are centred first), so the ridge never shifts the overall level.
 * @throws AcaiError `RUNTIME_MODEL_UNFIT` for no observations, a missing feature, or a value or
 * runtime that is not a positive number (logs of them are taken); `VALUE_OUT_OF_RANGE` for a
 * negative ridge strength.
 */
export function fitRuntimeModel(
  observations: readonly RuntimeObservation[],
  options: FitOptions = {},
): RuntimeModel {
  const n = observations.length;
  if (n === 0) {
    throw new AcaiError(
      ProvisioningProblems.RUNTIME_MODEL_UNFIT,
      'Cannot fit a runtime model without observations',
    );
  }
  const ridge = options.ridge ?? DEFAULT_RIDGE;
  if (!Number.isFinite(ridge) || ridge < 0) {
    throw new AcaiError(
      ProvisioningProblems.VALUE_OUT_OF_RANGE,
      `The ridge strength must be zero or more, got ${ridge}`,
    );
  }
  const features = [
    ...new Set(options.features ?? observations.flatMap((o) => Object.keys(o.features))),
  ].sort();

  // ln of every value, validated: one row per observation, one column per feature.
  const logs: number[][] = observations.map((o, i) => {
    const missing = features.filter((f) => o.features[f] === undefined);
    if (missing.length > 0) {
      throw new AcaiError(
        ProvisioningProblems.RUNTIME_MODEL_UNFIT,
        `Observation ${i} lacks ${plural(missing.length, 'feature')} ${missing.join(', ')}: every observation needs every feature`,
        missing.map((f) => ({ path: `observations.${i}.features.${f}`, message: 'missing' })),
      );
    }
    return features.map((f) =>
      logOf(o.features[f], `observations.${i}.features.${f}`, `feature ${f}`),
    );
  });
  const y = observations.map((o, i) =>
    logOf(o.seconds, `observations.${i}.seconds`, 'the runtime'),
  );

  const column = (j: number) => logs.map((row) => at(row, j));
  const ranges = features.map((f) => {
    const values = observations.map((o) => o.features[f] ?? Number.NaN);
    return { min: Math.min(...values), max: Math.max(...values) };
  });

  const notes: string[] = [];
  const constantFeatures: string[] = [];
  const learnable: number[] = [];
  features.forEach((f, j) => {
    const values = column(j);
    if (Math.max(...values) - Math.min(...values) < CONSTANT_SPAN) {
      constantFeatures.push(f);
      const value = ranges[j]?.min ?? Math.exp(at(values, 0));
      notes.push(
        `${f} was ${round(value)} in every observation, so its effect cannot be learned: coefficient 0 (predictions at other values of ${f} ignore it)`,
      );
    } else {
      learnable.push(j);
    }
  });

  // Centre and standardise the learnable columns; the intercept comes back afterwards.
  const mean = (values: readonly number[]) => values.reduce((s, v) => s + v, 0) / values.length;
  const yMean = mean(y);
  const centres = learnable.map((j) => mean(column(j)));
  const spreads = learnable.map((j, k) => {
    const c = at(centres, k);
    return Math.sqrt(mean(column(j).map((v) => (v - c) ** 2)));
  });
  const rows = logs.map((row) =>
    learnable.map((j, k) => (at(row, j) - at(centres, k)) / at(spreads, k)),
  );
  const yc = y.map((v) => v - yMean);

  const p = learnable.length;
  let underdetermined = false;
  if (n < p + 1) {
    underdetermined = true;
    notes.push(
      `${n} ${plural(n, 'observation')} for ${p} learnable ${plural(p, 'feature')} and an intercept: underdetermined, the ridge term picks the smallest coefficients that fit; profile on more configurations`,
    );
  }
  // Features that moved together (profiling only on c5 sizes doubles CPU and memory at once):
  // the data cannot say which of them made the job faster, and the fit splits the effect.
  for (let a = 0; a < p; a++) {
    for (let b = a + 1; b < p; b++) {
      const r = mean(rows.map((row) => at(row, a) * at(row, b)));
      if (Math.abs(r) > COLLINEAR) {
        underdetermined = true;
        notes.push(
          `${featureName(features, learnable, a)} and ${featureName(features, learnable, b)} moved together in every observation, so their separate effects cannot be told apart: the fit splits it between them`,
        );
      }
    }
  }
  if (!underdetermined && p > 0 && leastSquares(rows, yc) === undefined) {
    // Collinear in a combination of three or more features, which the pairwise check misses.
    underdetermined = true;
    notes.push(
      'Some features are a combination of others in these observations: their effects cannot all be told apart',
    );
  }

  const solution = p === 0 ? [] : leastSquares(rows, yc, { ridge: learnable.map(() => ridge * n) });
  if (solution === undefined) {
    // Only possible with ridge 0 on degenerate data.
    throw new AcaiError(
      ProvisioningProblems.RUNTIME_MODEL_UNFIT,
      'The runtime model cannot be fitted: the observations do not determine it and the ridge strength is 0',
    );
  }
  const coefficients: number[] = features.map(() => 0);
  let intercept = yMean;
  learnable.forEach((j, k) => {
    const b = at(solution, k) / at(spreads, k);
    coefficients[j] = b;
    intercept -= b * at(centres, k);
  });

  const partial = { kind: 'log-linear' as const, features, intercept, coefficients };
  const trainingMape = mape(
    observations.map((o, i) => ({
      predicted: Math.exp(evaluate(partial, logs[i] ?? [])),
      actual: o.seconds,
    })),
  );
  return {
    ...partial,
    ranges,
    n,
    mape: trainingMape,
    underdetermined,
    constantFeatures,
    ridge,
    notes,
  };
}

/**
 * The predicted runtime in seconds, `e^(b0 + Σ bᵢ·ln xᵢ)`. Extra features are ignored. This is the
 * fit's geometric-mean estimate: with noisy runs the arithmetic mean is a little higher.
 * @throws AcaiError `RUNTIME_MODEL_UNFIT` naming the features the model needs and was not given, or
 * a value that is not a positive number.
 */
export function predictSeconds(
  model: RuntimeModel,
  features: Readonly<Record<string, number>>,
): number {
  const missing = model.features.filter((f) => features[f] === undefined);
  if (missing.length > 0) {
    throw new AcaiError(
      ProvisioningProblems.RUNTIME_MODEL_UNFIT,
      `Cannot predict the runtime without ${plural(missing.length, 'feature')} ${missing.join(', ')} (the model uses ${model.features.join(', ')})`,
      missing.map((f) => ({ path: `features.${f}`, message: 'missing' })),
    );
  }
  if (model.coefficients.length !== model.features.length) {
    throw new Error(
      `Malformed runtime model: ${model.coefficients.length} coefficients for ${model.features.length} features`,
    );
  }
  const logs = model.features.map((f) => logOf(features[f], `features.${f}`, `feature ${f}`));
  return Math.exp(evaluate(model, logs));
}

/**
 * Where a prediction leaves the ground the model was fitted on: one sentence per feature outside
 * its observed range (a power law fitted on 1–4 CPUs says little about 64). Empty when none is.
 */
export function extrapolation(
  model: RuntimeModel,
  features: Readonly<Record<string, number>>,
): string[] {
  const out: string[] = [];
  model.features.forEach((f, j) => {
    const value = features[f];
    const range = model.ranges[j];
    if (value === undefined || range === undefined) return;
    if (value < range.min || value > range.max) {
      out.push(
        range.min === range.max
          ? `${f} = ${round(value)} but every profiled run had ${round(range.min)}`
          : `${f} = ${round(value)} is outside the profiled ${round(range.min)}–${round(range.max)}`,
      );
    }
  });
  return out;
}

/**
 * Mean absolute percentage error, `mean(|predicted − actual| / actual)`, as a fraction
 * (0.05 = 5 %). 0 for no pairs.
 * @throws AcaiError `VALUE_OUT_OF_RANGE` for an actual value that is not a positive number.
 */
export function mape(
  pairs: readonly { readonly predicted: number; readonly actual: number }[],
): number {
  if (pairs.length === 0) return 0;
  let sum = 0;
  pairs.forEach(({ predicted, actual }, i) => {
    if (!Number.isFinite(actual) || actual <= 0) {
      throw new AcaiError(
        ProvisioningProblems.VALUE_OUT_OF_RANGE,
        `MAPE needs positive actual values, pair ${i} has ${actual}`,
        [{ path: `pairs.${i}.actual`, message: 'must be a positive number' }],
      );
    }
    sum += Math.abs(predicted - actual) / actual;
  });
  return sum / pairs.length;
}

/** A run's memory outcome on a configuration. */
export interface MemoryObservation {
  readonly memoryMb: number;
  readonly outcome: 'out_of_memory' | 'succeeded';
}

/** What the runs say about memory: below `floorMb` the job is known or assumed not to fit. */
export interface MemoryFloor {
  /** The smallest memory to allow. */
  readonly floorMb: number;
  /** The largest memory the job ran out of. */
  readonly outOfMemoryAtMb: number;
  /**
   * The smallest memory above every out-of-memory run at which the job succeeded, which is then
   * the floor; null when no run above the last OOM succeeded yet (the floor is then just above it).
   */
  readonly succeededAtMb: number | null;
}

/**
 * The memory floor from past runs: the smallest memory at which the job succeeded above every
 * memory it ran out of. Everything below is treated as infeasible, including sizes between the
 * last OOM and the first success, which nothing has tried (a retry that runs out of memory costs
 * more than the difference). With no success above the last OOM, the floor is 1 MiB above it.
 * A success below an OOM (a flaky or input-dependent job) does not lower the floor.
 * @returns undefined when the job never ran out of memory: no floor.
 */
export function memoryFloorMb(observations: readonly MemoryObservation[]): MemoryFloor | undefined {
  let outOfMemoryAtMb: number | undefined;
  for (const o of observations) {
    if (o.outcome === 'out_of_memory') outOfMemoryAtMb = Math.max(outOfMemoryAtMb ?? 0, o.memoryMb);
  }
  if (outOfMemoryAtMb === undefined) return undefined;
  const oom = outOfMemoryAtMb;
  const above = observations
    .filter((o) => o.outcome === 'succeeded' && o.memoryMb > oom)
    .map((o) => o.memoryMb);
  const succeededAtMb = above.length === 0 ? null : Math.min(...above);
  return { floorMb: succeededAtMb ?? Math.floor(oom) + 1, outOfMemoryAtMb: oom, succeededAtMb };
}

function evaluate(
  model: Pick<RuntimeModel, 'intercept' | 'coefficients'>,
  logs: readonly number[],
): number {
  let sum = model.intercept;
  model.coefficients.forEach((b, j) => {
    sum += b * at(logs, j);
  });
  return sum;
}

function logOf(value: number | undefined, path: string, what: string): number {
  if (value === undefined || !Number.isFinite(value) || value <= 0) {
    throw new AcaiError(
      ProvisioningProblems.RUNTIME_MODEL_UNFIT,
      `${what.charAt(0).toUpperCase()}${what.slice(1)} must be a positive number (the model takes its logarithm), got ${String(value)}`,
      [{ path, message: 'must be a positive number' }],
    );
  }
  return Math.log(value);
}

function featureName(features: readonly string[], learnable: readonly number[], k: number): string {
  return features[at(learnable, k)] ?? `#${k}`;
}

function plural(count: number, word: string): string {
  return count === 1 ? word : `${word}s`;
}

function round(value: number): string {
  return String(Number(value.toPrecision(6)));
}
