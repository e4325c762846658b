import { AcaiError, assertUnreachable, ProvisioningProblems } from '@acai/contracts';
import {
  formatAgainst,
  formatDollars,
  formatExcess,
  formatRatio,
  formatSeconds,
} from './format.js';
import { offerLabel, poolOf, type Offer } from './offers.js';
import { predictSeconds, type MemoryFloor, type RuntimeModel } from './runtime-model.js';

/**
 * A runtime prediction for one offer. `seconds` is the job's own running time, without booting.
 * `speed`, when given, is the per-vCPU speed of the hardware the prediction is for, usually that of
 * the profiling runs: the plan then rescales it to the offer as `seconds × speed / offer.speed`
 * (a model fitted on c5 vCPUs, speed 1, predicting for a t3.small at its 0.2 baseline: 5× longer).
 * That treats the whole job as CPU-bound, which is pessimistic for I/O-bound work on slow offers.
 * Without `speed` the prediction is taken as already being for this offer.
 */
export interface Prediction {
  readonly seconds: number;
  readonly speed?: number;
}

/** Predicts the running time of the job on an offer; undefined when it has no idea. */
export type Predictor = (offer: Offer) => Prediction | undefined;

export type Optimize = 'time' | 'cost';

export interface PlanRequest {
  readonly offers: readonly Offer[];
  readonly predict: Predictor;
  /** Deadline: the job must finish (booting included) within this many seconds. */
  readonly maxSeconds?: number;
  /** Budget in USD for the job. */
  readonly maxCost?: number;
  /** What to minimise among the configurations within the limits (see {@link planProvisioning}). */
  readonly optimize?: Optimize;
  /** The memory the job asks for, MiB. */
  readonly minMemoryMb?: number;
  /** What past runs say about memory ({@link memoryFloorMb}). */
  readonly memoryFloor?: MemoryFloor;
  /** The CPUs the job asks for. */
  readonly minCpu?: number;
  /** The GPUs the job asks for. */
  readonly minGpus?: number;
  /**
   * The predictions' typical error as a fraction (the runtime model's MAPE, 0.08 = 8 %), quoted in
   * the reason next to the predicted time so a reader knows how far to trust it.
   */
  readonly predictionError?: number;
  /**
   * The share of the job's work between two of its checkpoints (0.2: one every fifth of it), as
   * measured on its earlier runs: a Spot interruption loses the work since the last one, half of
   * this on average. Absent: 1, no checkpoint is known (a loss redoes half the work on average).
   */
  readonly checkpointFraction?: number;
  /**
   * Seconds, per provider, a job waits from being queued to starting beyond its configuration's
   * boot, as measured there (placing, dispatching, an executor taking the work): a deadline is
   * held against it too (absent: nothing added).
   */
  readonly startWaitSeconds?: Readonly<Record<string, number>>;
}

/**
 * A deadline planned on Spot capacity must hold with at least this probability against the
 * interruptions its running time is exposed to (their count is Poisson at the offer's rate).
 */
export const SPOT_DEADLINE_CONFIDENCE = 0.95;

/** One offer, judged. */
export interface Candidate {
  readonly offer: Offer;
  /** The work pool a node of this offer pulls from ({@link poolOf}). */
  readonly pool: string;
  /**
   * Predicted wall-clock seconds: boot + running time (rescaled by speed) + the expected time lost
   * to Spot interruptions. Null when the offer was ruled out before predicting or has no
   * prediction.
   */
  readonly predictedSeconds: number | null;
  /** `pricePerHour × predictedSeconds / 3600`: the boot is paid for too. */
  readonly predictedCost: number | null;
  /**
   * What a deadline is held against: `predictedSeconds` with Spot interruptions counted at
   * {@link SPOT_DEADLINE_CONFIDENCE} rather than on average (absent: the same as predicted).
   */
  readonly marginSeconds?: number;
  readonly feasible: boolean;
  /** Why it is not feasible, for a person. */
  readonly whyNot?: string;
}

export type PlanRule =
  | 'cheapest-within-deadline'
  | 'fastest-within-deadline'
  | 'fastest-within-budget'
  | 'cheapest-within-budget'
  | 'cheapest-within-limits'
  | 'fastest-within-limits'
  | 'cheapest'
  | 'fastest'
  | 'best-time-cost-tradeoff';

export interface Plan {
  /** True when the choice meets every limit. */
  readonly success: boolean;
  /**
   * The configuration to use. When nothing meets the limits, the closest one (success false): the
   * one needing the smallest relaxation of them; null when no offer can run the job at all.
   */
  readonly choice: Candidate | null;
  /** Every offer, best first: feasible, then missing a limit, then those that cannot run. */
  readonly alternatives: readonly Candidate[];
  readonly rule: PlanRule;
  /** One sentence saying what was chosen and why. */
  readonly reason: string;
}

/** Why an offer was ruled out before its time and cost could count. */
type Exclusion = 'gpus' | 'cpu' | 'memory' | 'no-prediction' | 'bad-prediction';

interface Judged {
  readonly candidate: Candidate;
  /** 0 feasible, 1 misses a limit, 2 cannot run or cannot be predicted. */
  readonly rank: 0 | 1 | 2;
  readonly exclusion?: Exclusion;
  /** How far past the limits: the largest predicted/limit over the limits given (> 1: missed). */
  readonly violation: number;
  readonly seconds: number;
  readonly cost: number;
  /** The rule's objective, then its tie-breaker: smaller is better (0 for offers ruled out). */
  readonly primary: number;
  readonly secondary: number;
  readonly label: string;
}

/**
 * Picks the configuration for a job from the offers, the runtime predictions and the limits.
 *
 * - deadline only: the cheapest that finishes in time (`optimize: 'time'`: the fastest);
 * - budget only: the fastest within the budget (`optimize: 'cost'`: the cheapest);
 * - both: among those meeting both, the cheapest (`optimize: 'time'`: the fastest);
 * - neither: the smallest time × cost, a balance that neither waits an hour to save a cent nor
 *   pays double for a few seconds (or plain `optimize` when given).
 *
 * Offers with too little memory (below `minMemoryMb` or the memory floor), too few CPUs or GPUs,
 * or no prediction cannot be chosen. When no offer meets the limits the plan fails, and its choice
 * is the one that misses them by the least (largest of predicted/limit), e.g. the fastest for a
 * missed deadline. Ties go to the offer named first, then its pool, so plans are deterministic.
 * Pure: the same request gives the same plan.
 * @throws AcaiError `VALUE_OUT_OF_RANGE` for a limit that is not a positive number.
 */
export function planProvisioning(request: PlanRequest): Plan {
  const { offers, maxSeconds, maxCost } = request;
  if (maxSeconds !== undefined) positive(maxSeconds, 'maxSeconds', 'The deadline');
  if (maxCost !== undefined) positive(maxCost, 'maxCost', 'The budget');
  const error = request.predictionError;
  if (error !== undefined && !(Number.isFinite(error) && error >= 0)) {
    throw new AcaiError(
      ProvisioningProblems.VALUE_OUT_OF_RANGE,
      `The prediction error must be zero or more, got ${error}`,
      [{ path: 'predictionError', message: 'must be zero or more' }],
    );
  }
  for (const [value, path] of [
    [request.minMemoryMb, 'minMemoryMb'],
    [request.minCpu, 'minCpu'],
    [request.minGpus, 'minGpus'],
  ] as const) {
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
      throw new AcaiError(
        ProvisioningProblems.VALUE_OUT_OF_RANGE,
        `${path} must be zero or more, got ${value}`,
        [{ path, message: 'must be zero or more' }],
      );
    }
  }
  const rule = ruleFor(request);
  const objective = objectiveOf(rule);
  const judged = offers.map((offer) => judge(offer, request, objective));
  const sorted = judged.sort(
    (a, b) =>
      a.rank - b.rank ||
      (a.rank === 1 ? a.violation - b.violation : 0) ||
      a.primary - b.primary ||
      a.secondary - b.secondary ||
      compareText(a.label, b.label) ||
      compareText(a.candidate.pool, b.candidate.pool),
  );

  const best = sorted[0];
  const alternatives = sorted.map((j) => j.candidate);
  if (best === undefined) {
    return {
      success: false,
      choice: null,
      alternatives,
      rule,
      reason: 'No configurations were offered',
    };
  }
  switch (best.rank) {
    case 0:
      return {
        success: true,
        choice: best.candidate,
        alternatives,
        rule,
        reason: successReason(best, sorted, request, rule),
      };
    case 1:
      return {
        success: false,
        choice: best.candidate,
        alternatives,
        rule,
        reason: missedReason(best, sorted, request),
      };
    case 2:
      return {
        success: false,
        choice: null,
        alternatives,
        rule,
        reason: cannotRunReason(sorted, request),
      };
    default:
      return assertUnreachable(best.rank, 'rank');
  }
}

export interface PredictorOptions {
  /**
   * Per-vCPU speed of the hardware the model was fitted on (see {@link Prediction}); default 1,
   * a c5 vCPU.
   */
  readonly speed?: number;
}

/**
 * A {@link Predictor} from a fitted runtime model and a job's size parameters: each offer is
 * predicted with `cpu = offer.vCpu`, `memoryMb = offer.memoryMb` and the parameters (which win on a
 * clash, so a model fitted on `cpu` as a job parameter still works).
 * @throws AcaiError `SIZE_PARAMETER_INVALID` up front when the model needs a feature that neither the
 * offers nor the parameters provide.
 */
export function predictorFrom(
  model: RuntimeModel,
  parameters: Readonly<Record<string, number>>,
  options: PredictorOptions = {},
): Predictor {
  const provided = new Set(['cpu', 'memoryMb', ...Object.keys(parameters)]);
  const missing = model.features.filter((f) => !provided.has(f));
  if (missing.length > 0) {
    throw new AcaiError(
      ProvisioningProblems.SIZE_PARAMETER_INVALID,
      `The runtime model needs ${missing.join(', ')}, which the job's parameters do not give`,
      missing.map((f) => ({ path: `parameters.${f}`, message: 'missing' })),
    );
  }
  const speed = options.speed ?? 1;
  return (offer) => ({
    seconds: predictSeconds(model, { cpu: offer.vCpu, memoryMb: offer.memoryMb, ...parameters }),
    speed,
  });
}

function ruleFor(request: PlanRequest): PlanRule {
  const deadline = request.maxSeconds !== undefined;
  const budget = request.maxCost !== undefined;
  const optimize = request.optimize;
  if (deadline && budget)
    return optimize === 'time' ? 'fastest-within-limits' : 'cheapest-within-limits';
  if (deadline) return optimize === 'time' ? 'fastest-within-deadline' : 'cheapest-within-deadline';
  if (budget) return optimize === 'cost' ? 'cheapest-within-budget' : 'fastest-within-budget';
  if (optimize === undefined) return 'best-time-cost-tradeoff';
  return optimize === 'time' ? 'fastest' : 'cheapest';
}

type Objective = 'time' | 'cost' | 'tradeoff';

function objectiveOf(rule: PlanRule): Objective {
  switch (rule) {
    case 'cheapest-within-deadline':
    case 'cheapest-within-budget':
    case 'cheapest-within-limits':
    case 'cheapest':
      return 'cost';
    case 'fastest-within-deadline':
    case 'fastest-within-budget':
    case 'fastest-within-limits':
    case 'fastest':
      return 'time';
    case 'best-time-cost-tradeoff':
      return 'tradeoff';
    default:
      return assertUnreachable(rule, 'rule');
  }
}

function judge(offer: Offer, request: PlanRequest, objective: Objective): Judged {
  const pool = poolOf(offer);
  const label = offerLabel(offer);
  const excluded = (exclusion: Exclusion, whyNot: string): Judged => ({
    candidate: {
      offer,
      pool,
      predictedSeconds: null,
      predictedCost: null,
      feasible: false,
      whyNot,
    },
    rank: 2,
    exclusion,
    violation: Number.POSITIVE_INFINITY,
    seconds: Number.POSITIVE_INFINITY,
    cost: Number.POSITIVE_INFINITY,
    // Ruled-out offers are ordered by name only (and ∞ − ∞ would be NaN in the comparator).
    primary: 0,
    secondary: 0,
    label,
  });

  const minGpus = request.minGpus ?? 0;
  if ((offer.gpus ?? 0) < minGpus) {
    return excluded('gpus', `has ${offer.gpus ?? 0} GPUs, the job needs ${minGpus}`);
  }
  const minCpu = request.minCpu ?? 0;
  if (offer.vCpu < minCpu) {
    return excluded('cpu', `has ${offer.vCpu} vCPUs, the job needs at least ${minCpu}`);
  }
  const memory = memoryNeed(request);
  if (memory !== undefined && offer.memoryMb < memory.mb) {
    return excluded(
      'memory',
      `needs at least ${memory.mb} MiB (${memory.why}), has ${offer.memoryMb} MiB`,
    );
  }

  const prediction = request.predict(offer);
  if (prediction === undefined) {
    return excluded('no-prediction', 'no runtime prediction for this configuration');
  }
  const profiledSpeed = prediction.speed ?? offer.speed;
  if (
    !(Number.isFinite(prediction.seconds) && prediction.seconds >= 0) ||
    !(Number.isFinite(profiledSpeed) && profiledSpeed > 0) ||
    !(offer.speed > 0)
  ) {
    return excluded(
      'bad-prediction',
      `the runtime prediction (${prediction.seconds} s at speed ${profiledSpeed}) or the offer's speed (${offer.speed}) is not a usable number`,
    );
  }
  const running = (prediction.seconds * profiledSpeed) / offer.speed;
  const risk = spotRisk(offer, running, request.checkpointFraction ?? 1);
  const seconds = offer.bootSeconds + running + risk.expectedSeconds;
  const cost = (offer.pricePerHour * seconds) / 3600;
  const wait = request.startWaitSeconds?.[offer.provider] ?? 0;
  // The running time the model is typically off by: an offer predicted to finish just in time
  // misses about half the time, so a deadline is held against the prediction plus its error.
  const errorSeconds = running * (request.predictionError ?? 0);
  const held = offer.bootSeconds + wait + running + errorSeconds + risk.marginSeconds;

  const problems: string[] = [];
  let violation = 1;
  if (request.maxSeconds !== undefined) {
    violation = Math.max(violation, held / request.maxSeconds);
    if (held > request.maxSeconds) {
      const [value, limit] = formatAgainst(held, request.maxSeconds, formatSeconds);
      const added = [
        ...(held > seconds + wait + errorSeconds
          ? [
              `${risk.losses} Spot interruption${risk.losses === 1 ? '' : 's'} (${Math.round(SPOT_DEADLINE_CONFIDENCE * 100)} % of runs have no more)`,
            ]
          : []),
        ...(errorSeconds > 0 ? [`the predictions' typical error,${errorNote(request)}`] : []),
        ...(wait > 0 ? [`${formatSeconds(wait)} of measured wait to start`] : []),
      ];
      problems.push(
        `predicted ${value}${added.length === 0 ? '' : ` with ${joinAnd(added)}`} exceeds the deadline of ${limit}`,
      );
    }
  }
  if (request.maxCost !== undefined) {
    violation = Math.max(violation, cost / request.maxCost);
    if (cost > request.maxCost) {
      const [value, limit] = formatAgainst(cost, request.maxCost, formatDollars);
      problems.push(`predicted cost ${value} exceeds the budget of ${limit}`);
    }
  }
  const candidate: Candidate = {
    offer,
    pool,
    predictedSeconds: seconds,
    predictedCost: cost,
    ...(held > seconds ? { marginSeconds: held } : {}),
    feasible: problems.length === 0,
    ...(problems.length === 0 ? {} : { whyNot: problems.join('; ') }),
  };
  const [primary, secondary] = objectiveKey(objective, seconds, cost);
  return {
    candidate,
    rank: problems.length === 0 ? 0 : 1,
    violation,
    seconds,
    cost,
    primary,
    secondary,
    label,
  };
}

/**
 * What Spot interruptions cost a job that runs `running` seconds on `offer`: each loses a new
 * node's boot and the work since the job's last checkpoint (half of `checkpointFraction` of the
 * work on average), and their count is Poisson at the offer's rate over the running time.
 * `expectedSeconds` is the mean, what the job costs; `marginSeconds` counts the interruptions at
 * {@link SPOT_DEADLINE_CONFIDENCE} (`losses` of them), what a deadline is held against.
 */
export function spotRisk(
  offer: Pick<Offer, 'interruptionsPerHour' | 'bootSeconds'>,
  running: number,
  checkpointFraction: number,
): { expectedSeconds: number; marginSeconds: number; losses: number } {
  const rate = offer.interruptionsPerHour;
  if (!(rate > 0) || !(running > 0)) return { expectedSeconds: 0, marginSeconds: 0, losses: 0 };
  const fraction = Math.min(1, Math.max(0, checkpointFraction));
  const perLoss = offer.bootSeconds + (fraction * running) / 2;
  const mean = (rate * running) / 3600;
  const losses = poissonQuantile(mean, SPOT_DEADLINE_CONFIDENCE);
  const expectedSeconds = mean * perLoss;
  return { expectedSeconds, marginSeconds: Math.max(expectedSeconds, losses * perLoss), losses };
}

/** The smallest k with P(N <= k) >= p for N ~ Poisson(mean). */
export function poissonQuantile(mean: number, p: number): number {
  let term = Math.exp(-mean);
  let cumulative = term;
  let k = 0;
  while (cumulative < p && k < 10_000) {
    k += 1;
    term *= mean / k;
    cumulative += term;
  }
  return k;
}

/** What the objective minimises, then what breaks its ties. */
function objectiveKey(objective: Objective, seconds: number, cost: number): [number, number] {
  switch (objective) {
    case 'cost':
      return [cost, seconds];
    case 'time':
      return [seconds, cost];
    case 'tradeoff':
      return [seconds * cost, seconds];
    default:
      return assertUnreachable(objective, 'objective');
  }
}

/** The binding memory requirement and where it comes from, if any. */
function memoryNeed(request: PlanRequest): { mb: number; why: string } | undefined {
  const asked = request.minMemoryMb;
  const floor = request.memoryFloor;
  if (floor !== undefined && (asked === undefined || floor.floorMb >= asked)) {
    return { mb: floor.floorMb, why: `ran out of memory with ${floor.outOfMemoryAtMb} MiB` };
  }
  if (asked !== undefined && asked > 0) return { mb: asked, why: 'asked for by the job' };
  return undefined;
}

function successReason(
  best: Judged,
  sorted: readonly Judged[],
  request: PlanRequest,
  rule: PlanRule,
): string {
  const feasible = sorted.filter((j) => j.rank === 0).length;
  const total = sorted.length;
  const limits = limitPhrase(request, feasible === 1);
  const predicted = `predicted ${formatSeconds(best.seconds)}${errorNote(request)}, ${formatDollars(best.cost)}`;
  const objective = objectiveOf(rule);
  const superlative = (() => {
    switch (objective) {
      case 'cost':
        return 'cheapest';
      case 'time':
        return 'fastest';
      case 'tradeoff':
        return 'best time × cost';
      default:
        return assertUnreachable(objective, 'objective');
    }
  })();
  const among =
    total === 1
      ? `the only configuration offered${request.maxSeconds === undefined && request.maxCost === undefined ? '' : `, and it ${limits}`}`
      : feasible === 1
        ? `the only one of ${total} ${plural(total, 'configuration')} that ${limits}`
        : feasible < total
          ? `${superlative} of the ${feasible} configurations (of ${total}) that ${limits}`
          : request.maxSeconds === undefined && request.maxCost === undefined
            ? `${superlative} of ${total} configurations`
            : `${superlative} of ${total} configurations, all of which ${limits}`;
  return `${best.label}: ${among} (${predicted})${contrast(best, sorted, objective)}`;
}

/** Below this ratio two times or costs read as "about the same" rather than "1× as much". */
const SAME = 1.05;

/** What the chosen one is compared with: the extreme of the other dimension among the runnable. */
function contrast(best: Judged, sorted: readonly Judged[], objective: Objective): string {
  const runnable = sorted.filter((j) => j.rank !== 2);
  const fastest = extreme(
    runnable,
    (j) => j.seconds,
    (j) => j.cost,
  );
  const cheapest = extreme(
    runnable,
    (j) => j.cost,
    (j) => j.seconds,
  );
  if (fastest === undefined || cheapest === undefined) return '';
  switch (objective) {
    case 'cost': {
      if (fastest === best || fastest.seconds >= best.seconds) return '; it is also the fastest';
      const ratio = fastest.cost / best.cost;
      return `; the fastest, ${fastest.label} (${formatSeconds(fastest.seconds)}), would cost ${ratio < SAME ? 'about the same' : `${formatRatio(ratio)} as much`}`;
    }
    case 'time': {
      if (cheapest === best || cheapest.cost >= best.cost) return '; it is also the cheapest';
      const ratio = cheapest.seconds / best.seconds;
      return `; the cheapest, ${cheapest.label} (${formatDollars(cheapest.cost)}), would take ${ratio < SAME ? 'about as long' : `${formatRatio(ratio)} as long`}`;
    }
    case 'tradeoff': {
      const isFastest = fastest === best || fastest.seconds >= best.seconds;
      const isCheapest = cheapest === best || cheapest.cost >= best.cost;
      if (isFastest && isCheapest) return '; it is both the fastest and the cheapest';
      const parts: string[] = [];
      if (!isFastest)
        parts.push(
          `the fastest, ${fastest.label}, takes ${formatSeconds(fastest.seconds)} for ${formatDollars(fastest.cost)}`,
        );
      if (!isCheapest)
        parts.push(
          `the cheapest, ${cheapest.label}, takes ${formatSeconds(cheapest.seconds)} for ${formatDollars(cheapest.cost)}`,
        );
      return `; ${parts.join(', ')}`;
    }
    default:
      return assertUnreachable(objective, 'objective');
  }
}

function missedReason(best: Judged, sorted: readonly Judged[], request: PlanRequest): string {
  const { maxSeconds, maxCost } = request;
  const missing = `No configuration ${limitPhrase(request, true)}`;
  const time = (): string =>
    maxSeconds !== undefined && best.seconds > maxSeconds
      ? `${formatAgainst(best.seconds, maxSeconds, formatSeconds)[0]} (${formatExcess(best.seconds, maxSeconds, 'the deadline')})`
      : `${formatSeconds(best.seconds)}${maxSeconds === undefined ? '' : ' (in time)'}`;
  const error = request.predictionError === undefined ? '' : ` (predictions${errorNote(request)})`;
  const cost = (): string =>
    maxCost !== undefined && best.cost > maxCost
      ? `${formatAgainst(best.cost, maxCost, formatDollars)[0]} (${formatExcess(best.cost, maxCost, 'the budget')})`
      : `${formatDollars(best.cost)}${maxCost === undefined ? '' : ' (within the budget)'}`;
  if (maxSeconds !== undefined && maxCost === undefined) {
    return `${missing}: the fastest, ${best.label}, is predicted to take ${time()} and cost ${cost()}${error}`;
  }
  if (maxCost !== undefined && maxSeconds === undefined) {
    return `${missing}: the cheapest, ${best.label}, is predicted to cost ${cost()} and take ${time()}${error}`;
  }
  const missed = sorted.filter((j) => j.rank === 1);
  const late = missed.filter((j) => maxCost !== undefined && j.cost <= maxCost).length;
  const dear = missed.filter((j) => maxSeconds !== undefined && j.seconds <= maxSeconds).length;
  const split: string[] = [];
  if (dear > 0) {
    split.push(
      dear === 1 ? '1 finishes in time but costs more' : `${dear} finish in time but cost more`,
    );
  }
  if (late > 0) {
    split.push(
      late === 1 ? '1 fits the budget but finishes late' : `${late} fit the budget but finish late`,
    );
  }
  return `${missing}: the closest, ${best.label}, is predicted to take ${time()} and cost ${cost()}${error}${split.length > 0 ? `; ${split.join(', ')}` : ''}`;
}

/** `a`, `a and b`, `a, b and c`. */
function joinAnd(parts: readonly string[]): string {
  return parts.length <= 1
    ? (parts[0] ?? '')
    : `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
}

/** ` ± 8%` when the request says how good the predictions are. */
function errorNote(request: PlanRequest): string {
  const error = request.predictionError;
  if (error === undefined) return '';
  const percent = error * 100;
  return ` ± ${percent >= 10 ? Math.round(percent) : Number(percent.toPrecision(2))}%`;
}

function cannotRunReason(sorted: readonly Judged[], request: PlanRequest): string {
  const counts = new Map<Exclusion, number>();
  for (const j of sorted) {
    if (j.exclusion !== undefined) counts.set(j.exclusion, (counts.get(j.exclusion) ?? 0) + 1);
  }
  const order: Exclusion[] = ['gpus', 'cpu', 'memory', 'no-prediction', 'bad-prediction'];
  const parts = order.flatMap((exclusion) => {
    const count = counts.get(exclusion);
    return count === undefined ? [] : [exclusionPhrase(exclusion, count, request)];
  });
  return `No configuration can run this job: ${parts.join(', ')}`;
}

function exclusionPhrase(exclusion: Exclusion, count: number, request: PlanRequest): string {
  const have = count === 1 ? '1 has' : `${count} have`;
  switch (exclusion) {
    case 'gpus':
      return `${have} fewer than ${request.minGpus ?? 0} GPUs`;
    case 'cpu':
      return `${have} fewer than ${request.minCpu ?? 0} vCPUs`;
    case 'memory': {
      const need = memoryNeed(request);
      return need === undefined
        ? `${have} too little memory`
        : `${have} less than ${need.mb} MiB (${need.why})`;
    }
    case 'no-prediction':
      return `${have} no runtime prediction (profile the job first)`;
    case 'bad-prediction':
      return `${have} an unusable runtime prediction`;
    default:
      return assertUnreachable(exclusion, 'exclusion');
  }
}

/** `finish(es) within 10 min and cost(s) at most $0.05`, or `can run it` with no limits. */
function limitPhrase(request: PlanRequest, singular: boolean): string {
  const parts: string[] = [];
  if (request.maxSeconds !== undefined) {
    parts.push(`${singular ? 'finishes' : 'finish'} within ${formatSeconds(request.maxSeconds)}`);
  }
  if (request.maxCost !== undefined) {
    parts.push(`${singular ? 'costs' : 'cost'} at most ${formatDollars(request.maxCost)}`);
  }
  return parts.length === 0 ? 'can run it' : parts.join(' and ');
}

/** The judged with the smallest `primary`, then `secondary`, then name; undefined for none. */
function extreme(
  judged: readonly Judged[],
  primary: (j: Judged) => number,
  secondary: (j: Judged) => number,
): Judged | undefined {
  let best: Judged | undefined;
  for (const j of judged) {
    if (
      best === undefined ||
      primary(j) < primary(best) ||
      (primary(j) === primary(best) &&
        (secondary(j) < secondary(best) ||
          (secondary(j) === secondary(best) && compareText(j.label, best.label) < 0)))
    ) {
      best = j;
    }
  }
  return best;
}

function positive(value: number, path: string, what: string): void {
  if (!Number.isFinite(value) || value <= 0) {
    throw new AcaiError(
      ProvisioningProblems.VALUE_OUT_OF_RANGE,
      `${what} must be a positive number, got ${value}`,
      [{ path, message: 'must be a positive number' }],
    );
  }
}

function plural(count: number, word: string): string {
  return count === 1 ? word : `${word}s`;
}

/** Code-point order, not locale order: plans must not depend on the machine's locale. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
