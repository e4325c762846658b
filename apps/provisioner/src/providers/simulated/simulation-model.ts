import type { Offer } from '@acai/provisioning';

/**
 * The simulated cloud's models, pure: how long a job runs on a node, when a Spot instance is
 * reclaimed, what an instance costs, and how a Spot market is named to the EC2 fleet.
 */

/** Step variables a simulated job reads (its `env`). */
export const SimEnv = {
  /** Seconds the job takes on one vCPU of speed 1 (a c5 vCPU). */
  seconds: 'ACAI_SIM_SECONDS',
  /** Fraction of the work that parallelises over vCPUs (Amdahl), 0 to 1. */
  parallel: 'ACAI_SIM_PARALLEL',
  /** Probability that an attempt fails (exit code 1), 0 to 1. */
  failRate: 'ACAI_SIM_FAIL_RATE',
  /**
   * The work in this many equal steps (epochs, iterations): after each the job reports its
   * progress as metrics (`step` and `progress`), as a training job prints them. 0: none.
   */
  steps: 'ACAI_SIM_STEPS',
  /** A checkpoint every this many steps, which a later attempt resumes from. 0: none. */
  checkpointEvery: 'ACAI_SIM_CHECKPOINT_EVERY',
} as const;

/** Steps a simulated job may report: each is an event. */
export const MAX_SIM_STEPS = 10_000;

export const DEFAULT_JOB_SECONDS = 60;
export const DEFAULT_PARALLEL = 0.9;

/** What a simulated job is: its work and how it behaves. */
export interface JobModel {
  readonly seconds: number;
  readonly parallel: number;
  readonly failRate: number;
  /** Steps the work is cut in, each reported when done (0: the work is one piece). */
  readonly steps: number;
  /** A checkpoint after every this many steps (0: none). */
  readonly checkpointEvery: number;
}

export type JobModelResult =
  | { readonly ok: true; readonly model: JobModel }
  | { readonly ok: false; readonly message: string };

/** Reads a job's model from its environment; a bad value is a message naming the variable. */
export function jobModelOf(env: Readonly<Record<string, string>>): JobModelResult {
  const problems: string[] = [];
  const read = (name: string, fallback: number, max: number, whole = false): number => {
    const text = env[name];
    if (text === undefined || text.trim() === '') return fallback;
    const value = Number(text);
    if (
      !Number.isFinite(value) ||
      value < 0 ||
      value > max ||
      (whole && !Number.isInteger(value))
    ) {
      problems.push(
        `${name} must be a ${whole ? 'whole number' : 'number'} from 0 to ${max === Infinity ? 'any size' : max}, not '${text}'`,
      );
      return fallback;
    }
    return value;
  };
  const model = {
    seconds: read(SimEnv.seconds, DEFAULT_JOB_SECONDS, Infinity),
    parallel: read(SimEnv.parallel, DEFAULT_PARALLEL, 1),
    failRate: read(SimEnv.failRate, 0, 1),
    steps: read(SimEnv.steps, 0, MAX_SIM_STEPS, true),
    checkpointEvery: read(SimEnv.checkpointEvery, 0, MAX_SIM_STEPS, true),
  };
  if (model.checkpointEvery > 0 && model.steps === 0) {
    problems.push(
      `${SimEnv.checkpointEvery} needs ${SimEnv.steps}: a checkpoint is taken after a step`,
    );
  }
  return problems.length === 0
    ? { ok: true, model }
    : { ok: false, message: `the simulated job cannot run: ${problems.join('; ')}` };
}

/**
 * Virtual seconds a job runs on a node: Amdahl's law over the node's vCPUs, slowed by their speed
 * (a c5 vCPU is 1; a burstable t3 runs at its baseline):
 * `seconds × ((1 − p) + p / vCpu) / speed`.
 */
export function simulatedSeconds(
  model: Pick<JobModel, 'seconds' | 'parallel'>,
  node: Pick<Offer, 'vCpu' | 'speed'>,
): number {
  return (model.seconds * (1 - model.parallel + model.parallel / node.vCpu)) / node.speed;
}

/**
 * Where a simulated attempt starts and stops: it resumes after the step its checkpoint covers, and
 * each step is an equal share of the work. `atSeconds[i]` is when step `from + i` is done, in
 * seconds from the attempt's start on a node where the whole work takes `seconds`.
 */
export function stepPlan(
  model: Pick<JobModel, 'steps'>,
  seconds: number,
  resumeAfterStep: number,
): { readonly from: number; readonly atSeconds: readonly number[]; readonly seconds: number } {
  if (model.steps === 0) return { from: 1, atSeconds: [], seconds };
  const done = Math.min(Math.max(0, resumeAfterStep), model.steps);
  const per = seconds / model.steps;
  const atSeconds = Array.from({ length: model.steps - done }, (_, i) => per * (i + 1));
  return { from: done + 1, atSeconds, seconds: per * (model.steps - done) };
}

/**
 * Seconds of running until a Spot instance is reclaimed: interruptions arrive as a Poisson
 * process of `perHour` per instance-hour, so the wait is exponential with that rate. Infinity when
 * the rate is 0 (on-demand).
 */
export function interruptionDelaySeconds(perHour: number, random: () => number): number {
  if (!(perHour > 0)) return Infinity;
  return (-Math.log(1 - random()) / perHour) * 3600;
}

/** EC2 bills Linux instances per second, with a minimum of a minute. */
export const MIN_BILLED_SECONDS = 60;

/** What an instance that lived `seconds` (launch to termination) costs, in USD. */
export function instanceCost(pricePerHour: number, seconds: number): number {
  return (pricePerHour * Math.max(MIN_BILLED_SECONDS, seconds)) / 3600;
}

/**
 * The EC2 fleet knows instance types, not markets: it launches `types` and names pools after them.
 * The simulated cloud therefore names a Spot market as a type of its own, `c5.large-spot`, which
 * gives it the pool `simulated-c5-large-spot`; everything shown to people says `c5.large`.
 */
export const SPOT_SUFFIX = '-spot';

/** The type the fleet launches for an offer: `c5.large`, or `c5.large-spot` for Spot. */
export function marketType(offer: Pick<Offer, 'name' | 'spot'>): string {
  return offer.spot ? `${offer.name}${SPOT_SUFFIX}` : offer.name;
}

/** The instance type and market of a type the fleet launched. */
export function parseMarketType(type: string): { readonly name: string; readonly spot: boolean } {
  return type.endsWith(SPOT_SUFFIX)
    ? { name: type.slice(0, -SPOT_SUFFIX.length), spot: true }
    : { name: type, spot: false };
}
