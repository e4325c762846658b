import type {
  CandidateView,
  ProvisionDecision,
  ProvisionSpec,
  Resources,
  StagedInput,
} from '@acai/contracts';
import {
  crossValidatedError,
  extrapolatedSizes,
  fitCpuCurveModel,
  predictCpuCurve,
} from './cpu-curve-model.js';
import { formatDollars, formatSeconds } from './format.js';
import { jobProfile, type JobProfile } from './job-profile.js';
import type { OfferCatalogue } from './offer-catalogue.js';
import { offerKey, type Offer } from './offers.js';
import { planProvisioning } from './plan.js';
import { profilingGrid } from './profiling.js';
import { mape, memoryFloorMb, type RuntimeObservation } from './runtime-model.js';

/** A job as the auto-provisioner sees it: what runs, on which data, asking for what. */
export interface JobToPlace {
  readonly command: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly inputs: readonly (Pick<StagedInput, 'fileset' | 'version'> & {
    readonly manifestSha256?: string;
  })[];
  readonly resources: Resources;
  readonly provision: ProvisionSpec;
}

/**
 * One finished job of a profile, as the runtime model sees it: its size features, where it ran,
 * what was predicted, how long it took, and how it ended (the provisioner's
 * `runtime-observations` projection keeps these).
 */
export interface JobObservation {
  readonly jobId: string;
  readonly features: Record<string, number>;
  /** The configuration's name (`offerKey`), or null when it ran without one. */
  readonly offer: string | null;
  readonly cpu: number | null;
  readonly memoryMb: number | null;
  readonly predictedSeconds: number | null;
  readonly seconds: number | null;
  readonly outcome: 'succeeded' | 'out_of_memory' | 'failed' | null;
  /** Checkpoints it saved (absent: not counted). */
  readonly checkpoints?: number;
}

/** Where a job goes, and why: the data of `job.provisioned` without the pool (the provider's). */
export interface Choice {
  readonly offer: Offer;
  readonly reason: string;
  readonly decision: ProvisionDecision;
}

export type PlacementOutcome =
  | { readonly kind: 'chosen'; readonly choice: Choice }
  /** Nothing is known of this job yet: run these short configurations first. */
  | { readonly kind: 'profile'; readonly profile: JobProfile; readonly grid: readonly Offer[] }
  /** No configuration can run it at all (e.g. it ran out of memory on the largest). */
  | { readonly kind: 'impossible'; readonly reason: string; readonly decision: ProvisionDecision };

/** What the auto-provisioner knows when it places a job: everything read, nothing to read. */
export interface PlacementFacts {
  readonly job: JobToPlace;
  /** The configurations offered here; the job's `provision.providers` narrows them. */
  readonly catalogue: OfferCatalogue;
  /** The finished jobs of the job's profile, oldest first (unread, and unused, for a pinned job). */
  readonly history: readonly JobObservation[];
  /**
   * Whether the job's profile has been profiled in its project: until it has, a job that would
   * need profiling is answered `profile` (the first starts the run, the others wait for it);
   * after, it never is again, and a job without a model runs as requested.
   */
  readonly profiled: boolean;
  /** How many configurations a profiling run tries (`ACAI_PROFILING_RUNS`). */
  readonly profilingRuns: number;
  /**
   * Per provider, the measured wait from queued to started beyond a boot (see `PlacementWaits`):
   * a deadline is held against it (absent: nothing measured).
   */
  readonly startWaitSeconds?: Readonly<Record<string, number>>;
}

/** At most this many alternatives travel in the decision event. */
const MAX_ALTERNATIVES = 50;

/**
 * ACAI's auto-provisioner, as a decision: fits the job's runtime model (log-linear in its size
 * parameters, a measured curve in CPUs: see `fitCpuCurveModel`) on what its profile has run
 * (profiling runs and earlier jobs), predicts time and cost on every configuration, and chooses
 * by the step's deadline and budget. Without enough history it asks for profiling runs (when the
 * step says how to make one short and its profile was not profiled yet) or runs the job as
 * requested to learn from it. A step's `provision.offer` pins the configuration. Pure.
 * @throws AcaiError `OFFER_UNKNOWN` for a pinned configuration not offered, `SIZE_PARAMETER_INVALID`
 * for a size parameter that is not a number, `NO_CONFIGURATION` when nothing is as big as the
 * job asks for and it runs as requested.
 */
export function decidePlacement(facts: PlacementFacts): PlacementOutcome {
  const { job, catalogue, history } = facts;
  const provision = job.provision;
  const providers = provision.providers ?? catalogue.providers;
  if (provision.offer !== undefined) {
    const offer = catalogue.find(provision.offer, providers);
    return { kind: 'chosen', choice: pinned(offer, job) };
  }
  const profile = jobProfile(job);
  const offers = catalogue.offers(providers);
  const floor = memoryFloorMb(
    history.flatMap((o) =>
      o.memoryMb !== null && (o.outcome === 'succeeded' || o.outcome === 'out_of_memory')
        ? [{ memoryMb: o.memoryMb, outcome: o.outcome }]
        : [],
    ),
  );
  const runs = runsOf(history, catalogue);
  if (runs === undefined) {
    if (provision.profile !== undefined && !facts.profiled) {
      const grid = profilingGrid(offers, {
        count: facts.profilingRuns,
        minMemoryMb: Math.max(job.resources.memoryMb, floor?.floorMb ?? 0),
      });
      if (grid.length > 0) return { kind: 'profile', profile, grid };
    }
    return {
      kind: 'chosen',
      choice: asRequested(
        job,
        profile,
        history.length,
        catalogue.nearest(job.resources, providers),
      ),
    };
  }
  const model = fitCpuCurveModel(runs);
  // How far to trust a prediction: how far off its earlier predictions for this profile were,
  // or before any, how far off it is on each profiled run when that run is left out.
  const pastError = predictionError(history);
  const expectedError = pastError ?? crossValidatedError(runs);
  const checkpointFraction = checkpointFractionOf(history);
  const plan = planProvisioning({
    offers,
    ...(checkpointFraction === undefined ? {} : { checkpointFraction }),
    ...(facts.startWaitSeconds === undefined ? {} : { startWaitSeconds: facts.startWaitSeconds }),
    ...(expectedError === undefined ? {} : { predictionError: expectedError }),
    // The model is of vCPUs at speed 1: the plan stretches it by each offer's speed (a burstable
    // type's baseline makes every CPU-bound second slower, not the job narrower).
    predict: (offer) => ({
      seconds: predictCpuCurve(model, { ...profile.size, cpu: offer.vCpu }),
      speed: 1,
    }),
    ...(provision.maxSeconds !== undefined ? { maxSeconds: provision.maxSeconds } : {}),
    ...(provision.maxCost !== undefined ? { maxCost: provision.maxCost } : {}),
    ...(provision.optimize !== undefined ? { optimize: provision.optimize } : {}),
    minMemoryMb: job.resources.memoryMb,
    ...(floor !== undefined ? { memoryFloor: floor } : {}),
  });
  const beyond = extrapolatedSizes(runs, profile.size);
  const reason =
    beyond.length === 0
      ? plan.reason
      : `${plan.reason}; ${beyond.map((b) => `${b.feature}=${b.value}`).join(', ')} is beyond what was measured (${beyond.map((b) => `${b.feature} ${b.min === b.max ? b.min : `${b.min}–${b.max}`}`).join(', ')}), so the prediction extrapolates`;
  const decision: ProvisionDecision = {
    rule: plan.rule,
    success: plan.success,
    reason,
    signature: profile.signature,
    features: profile.size,
    predictedSeconds: plan.choice?.predictedSeconds ?? null,
    predictedCost: plan.choice?.predictedCost ?? null,
    model: { observations: model.n, mape: model.mape, predictionMape: pastError },
    alternatives: plan.alternatives.slice(0, MAX_ALTERNATIVES).map((c): CandidateView => ({
      offer: offerKey(c.offer),
      provider: c.offer.provider,
      predictedSeconds: c.predictedSeconds,
      predictedCost: c.predictedCost,
      feasible: c.feasible,
      whyNot: c.whyNot ?? null,
    })),
  };
  if (plan.choice === null) return { kind: 'impossible', reason, decision };
  return { kind: 'chosen', choice: { offer: plan.choice.offer, reason, decision } };
}

/**
 * A step without `provision`: it runs as it asked, on `offer`, with nothing to decide or predict
 * (what a run plan says of it).
 */
export function asRequestedChoice(offer: Offer, reason: string): Choice {
  return { offer, reason, decision: unmodelled('as-requested', reason, '', {}) };
}

/** A one-line summary of a decision for logs. */
export function describeChoice(choice: Choice): string {
  const d = choice.decision;
  return d.predictedSeconds === null
    ? `${offerKey(choice.offer)}: ${d.rule}`
    : `${offerKey(choice.offer)}: ${d.rule}, predicted ${formatSeconds(d.predictedSeconds)} / ${formatDollars(d.predictedCost ?? 0)}`;
}

/**
 * The runs a profile's model is fitted on, once they can teach one: at least two successful
 * runs on different CPU counts (fewer, and how runtime scales with CPUs is a guess).
 */
function runsOf(
  history: readonly JobObservation[],
  catalogue: OfferCatalogue,
): RuntimeObservation[] | undefined {
  const runs = history.flatMap((o) => {
    if (o.outcome !== 'succeeded' || o.seconds === null || !(o.seconds > 0) || o.cpu === null)
      return [];
    const { vCpu, speed } = hardwareOf(o, catalogue);
    // What it would have taken at speed 1 (a CPU-bound job: time scales with 1 / speed).
    return [{ features: { ...o.features, cpu: vCpu }, seconds: o.seconds * speed }];
  });
  return new Set(runs.map((r) => r.features.cpu)).size < 2 ? undefined : runs;
}

/** The vCPUs of the configuration an observation ran on, and their speed. */
function hardwareOf(o: JobObservation, catalogue: OfferCatalogue): { vCpu: number; speed: number } {
  if (o.offer !== null) {
    try {
      const offer = catalogue.find(o.offer);
      return { vCpu: offer.vCpu, speed: offer.speed };
    } catch {
      // A configuration no longer offered: its CPU count, at speed 1.
    }
  }
  return { vCpu: o.cpu ?? 1, speed: 1 };
}

/**
 * How far the predictions made for this profile's earlier jobs were from what they then took
 * (MAPE, a fraction), or null before any predicted job has finished. Each finished job refits the
 * model, so this is what the model has been learning from.
 */
function predictionError(history: readonly JobObservation[]): number | null {
  const pairs = history.flatMap((o) =>
    o.outcome === 'succeeded' && o.predictedSeconds !== null && o.seconds !== null && o.seconds > 0
      ? [{ predicted: o.predictedSeconds, actual: o.seconds }]
      : [],
  );
  return pairs.length === 0 ? null : mape(pairs);
}

/**
 * The share of its work a job of this profile does between two checkpoints, from the earlier jobs
 * that ran whole in one attempt (a job that saved n checkpoints: 1 / (n + 1)), the median of them;
 * undefined when none such has ended, or none was counted.
 */
export function checkpointFractionOf(history: readonly JobObservation[]): number | undefined {
  const fractions = history
    .flatMap((o) =>
      o.outcome === 'succeeded' && o.seconds !== null && o.checkpoints !== undefined
        ? [1 / (o.checkpoints + 1)]
        : [],
    )
    .sort((a, b) => a - b);
  const middle = Math.floor(fractions.length / 2);
  const upper = fractions[middle];
  if (upper === undefined) return undefined;
  return fractions.length % 2 === 1 ? upper : ((fractions[middle - 1] ?? upper) + upper) / 2;
}

/** The configuration the step pinned: nothing to decide, but the profile is still recorded. */
function pinned(offer: Offer, job: JobToPlace): Choice {
  const reason = `pinned to ${offerKey(offer)} (${offer.vCpu} vCPU, ${offer.memoryMb} MiB, ${formatDollars(offer.pricePerHour)}/h) by the step`;
  let signature = '';
  let features: Record<string, number> = {};
  try {
    const profile = jobProfile(job);
    signature = profile.signature;
    features = profile.size;
  } catch {
    // Size parameters that are not numbers: nothing to learn, but the job can still run.
  }
  return { offer, reason, decision: unmodelled('pinned', reason, signature, features) };
}

/** Not enough history and no way to profile: run as requested on `offer`, and learn from it. */
function asRequested(job: JobToPlace, profile: JobProfile, seen: number, offer: Offer): Choice {
  const reason = `no runtime model for this job yet (${seen} finished run${seen === 1 ? '' : 's'} of its profile; a model needs two on different CPU counts): running as requested on ${offerKey(offer)} to learn one${job.provision.profile === undefined ? '; give the step a `profile` to have short profiling runs first' : ''}`;
  return {
    offer,
    reason,
    decision: unmodelled('as-requested', reason, profile.signature, profile.size),
  };
}

/** A decision taken without a runtime model: no prediction, no alternatives. */
function unmodelled(
  rule: 'pinned' | 'as-requested',
  reason: string,
  signature: string,
  features: Record<string, number>,
): ProvisionDecision {
  return {
    rule,
    success: true,
    reason,
    signature,
    features,
    predictedSeconds: null,
    predictedCost: null,
    model: null,
    alternatives: [],
  };
}
