import {
  MAX_TRIALS,
  type BestTrial,
  type JobOutcome,
  type PlannedSweep,
  type EarlyStoppingRule,
  type EarlyStoppingSpec,
  type ErrorDetail,
  type StepSpec,
  type SweepSpec,
} from '@acai/contracts';
import type { Series } from './early-stopping.js';

/** A trial's parameters: the env values it sets on top of its step's `env`. */
export type TrialParams = Readonly<Record<string, string>>;

/**
 * The job name of trial `index` (1-based) of step `step`: `train#3`. `#` is not allowed in a step
 * name, so it never collides with one; the parameters are recorded beside it (the job's trial).
 */
export function trialName(step: string, index: number): string {
  return `${step}#${index}`;
}

/**
 * The parameter sets of a sweep, in trial order: `grid` is every combination (the last parameter
 * varying fastest), `random` draws `count` sets from a generator seeded by `seed` (the same spec
 * always gives the same trials), `list` is its env maps as given. Call after {@link sweepProblems}
 * found none.
 */
export function expandSweep(sweep: SweepSpec): TrialParams[] {
  if (sweep.grid !== undefined) {
    let sets: Record<string, string>[] = [{}];
    for (const [name, values] of Object.entries(sweep.grid)) {
      sets = sets.flatMap((set) => values.map((value) => ({ ...set, [name]: value })));
    }
    return sets;
  }
  if (sweep.random !== undefined) {
    const next = mulberry32(sweep.random.seed);
    const params = Object.entries(sweep.random.params);
    return Array.from({ length: sweep.random.count }, () =>
      Object.fromEntries(params.map(([name, domain]) => [name, draw(domain, next)])),
    );
  }
  return (sweep.list ?? []).map((set) => ({ ...set }));
}

type RandomDomain = NonNullable<SweepSpec['random']>['params'][string];

function draw(domain: RandomDomain, next: () => number): string {
  const u = next();
  if (Array.isArray(domain))
    return domain[Math.min(domain.length - 1, Math.floor(u * domain.length))]!;
  const { min, max } = domain;
  if (domain.log === true) {
    const x = Math.exp(Math.log(min) + u * (Math.log(max) - Math.log(min)));
    return domain.integer === true
      ? String(Math.min(Math.floor(max), Math.max(Math.ceil(min), Math.round(x))))
      : formatNumber(x);
  }
  if (domain.integer === true) {
    const low = Math.ceil(min);
    const high = Math.floor(max);
    return String(low + Math.min(high - low, Math.floor(u * (high - low + 1))));
  }
  return formatNumber(min + u * (max - min));
}

/** Six significant digits: `0.00316228`, not `0.0031622776601683794`. */
function formatNumber(x: number): string {
  return String(Number(x.toPrecision(6)));
}

/** A small, fast, seedable generator (mulberry32): uniform in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** How many trials a sweep expands into, without expanding it. */
export function trialCount(sweep: SweepSpec): number {
  if (sweep.grid !== undefined)
    return Object.values(sweep.grid).reduce((n, values) => n * values.length, 1);
  if (sweep.random !== undefined) return sweep.random.count;
  return sweep.list?.length ?? 0;
}

/**
 * What is wrong with step `i`'s sweep, each naming the step and the field: not exactly one of
 * grid, random or list; too many trials; a range that is empty or, log-uniform, not above 0;
 * early stopping without an objective; ASHA without rungs or `maxSteps`, or with rungs out of order.
 */
export function sweepProblems(step: StepSpec, i: number): ErrorDetail[] {
  const sweep = step.sweep;
  if (sweep === undefined) return [];
  const where = `steps.${i}.sweep`;
  const problems: ErrorDetail[] = [];
  const problem = (path: string, message: string) =>
    problems.push({ path: `${where}${path}`, message: `step '${step.name}': ${message}` });
  const kinds = (['grid', 'random', 'list'] as const).filter((k) => sweep[k] !== undefined);
  if (kinds.length !== 1) {
    problem(
      '',
      kinds.length === 0
        ? 'a sweep needs exactly one of grid, random or list; it has none'
        : `a sweep needs exactly one of grid, random or list; it has ${kinds.join(' and ')}`,
    );
    return problems;
  }
  if (sweep.grid !== undefined && Object.keys(sweep.grid).length === 0) {
    problem('.grid', 'the grid sweeps no parameter: name at least one env variable and its values');
  }
  if (sweep.random !== undefined) {
    if (Object.keys(sweep.random.params).length === 0) {
      problem('.random.params', 'a random sweep needs at least one parameter to draw');
    }
    for (const [name, domain] of Object.entries(sweep.random.params)) {
      if (Array.isArray(domain)) continue;
      if (!(domain.min < domain.max)) {
        problem(
          `.random.params.${name}`,
          `the range of ${name} needs min below max (it is ${domain.min} to ${domain.max})`,
        );
      } else if (domain.log === true && !(domain.min > 0)) {
        problem(
          `.random.params.${name}.min`,
          `a log-uniform range of ${name} needs min above 0 (it is ${domain.min})`,
        );
      } else if (domain.integer === true && Math.ceil(domain.min) > Math.floor(domain.max)) {
        problem(`.random.params.${name}`, `the range of ${name} holds no whole number`);
      }
    }
  }
  const count = trialCount(sweep);
  if (count > MAX_TRIALS) {
    problem(
      `.${kinds[0]}`,
      `the sweep makes ${count} trials, and a step may run at most ${MAX_TRIALS}: sweep fewer values, or use random with a count`,
    );
  }
  if (sweep.earlyStopping !== undefined && sweep.objective === undefined) {
    problem(
      '.earlyStopping',
      'early stopping compares the trials by an objective: add objective { metric, mode } to the sweep',
    );
  }
  const es = sweep.earlyStopping;
  if (es?.rule === 'asha') {
    if (es.rungs === undefined && es.maxSteps === undefined) {
      problem(
        '.earlyStopping',
        "asha needs its rungs: give 'rungs' (steps, e.g. [1, 3, 9]) or 'maxSteps'",
      );
    }
    if (es.rungs !== undefined && es.rungs.some((r, k) => k > 0 && r <= es.rungs![k - 1]!)) {
      problem(
        '.earlyStopping.rungs',
        `asha's rungs must be increasing steps (they are ${es.rungs.join(', ')})`,
      );
    }
    if (es.rungs === undefined && es.maxSteps !== undefined && es.maxSteps <= es.minSteps) {
      problem(
        '.earlyStopping.maxSteps',
        `asha's maxSteps (${es.maxSteps}) must be above its minSteps (${es.minSteps})`,
      );
    }
  }
  return problems;
}

/**
 * The rule as the run records it: ASHA's rungs made explicit (minSteps × reductionFactor^k below
 * maxSteps when not given).
 */
export function recordedRule(spec: EarlyStoppingSpec): EarlyStoppingRule {
  if (spec.rule === 'median') {
    return { rule: 'median', minSteps: spec.minSteps, minTrials: spec.minTrials };
  }
  const rungs = spec.rungs ?? [];
  if (spec.rungs === undefined) {
    for (let r = spec.minSteps; r < (spec.maxSteps ?? 0); r = Math.ceil(r * spec.reductionFactor)) {
      rungs.push(r);
    }
  }
  return { rule: 'asha', reductionFactor: spec.reductionFactor, rungs: [...rungs] };
}

/** A trial as it ended, for {@link bestTrial}. */
export interface TrialResult {
  readonly jobId: string;
  readonly name: string;
  readonly params: TrialParams;
  readonly outcome: JobOutcome | undefined;
  /** Its objective by step, as it reported it. */
  readonly series: Series;
}

/**
 * The best trial of a sweep: among the trials that succeeded and reported the objective, the one
 * whose last reported value is best (the value its output was saved with); the earlier trial on a
 * tie. Null without an objective, or when no trial qualifies.
 */
export function bestTrial(sweep: PlannedSweep, trials: readonly TrialResult[]): BestTrial | null {
  const objective = sweep.objective;
  if (objective === null) return null;
  let best: BestTrial | null = null;
  for (const trial of trials) {
    const last = trial.series[trial.series.length - 1];
    if (trial.outcome !== 'succeeded' || last === undefined) continue;
    const value = last[1];
    if (best === null || (objective.mode === 'min' ? value < best.value : value > best.value)) {
      best = { jobId: trial.jobId, name: trial.name, params: { ...trial.params }, value };
    }
  }
  return best;
}
