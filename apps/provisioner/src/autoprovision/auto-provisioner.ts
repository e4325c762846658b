import {
  AcaiError,
  ProvisioningProblems,
  type CandidateView,
  type OfferRef,
  type ProvisionDecision,
  type ProvisionSpec,
  type Resources,
  type StagedInput,
} from '@acai/contracts';
import {
  crossValidatedError,
  extrapolatedSizes,
  fitCpuCurveModel,
  formatDollars,
  formatSeconds,
  mape,
  memoryFloorMb,
  planProvisioning,
  predictCpuCurve,
  profilingGrid,
  type Offer,
  type RuntimeObservation,
} from '@acai/provisioning';
import { offerKey, type OfferBook } from '../offers/offer-book.js';
import { jobProfile, type JobProfile } from './job-profile.js';
import type { Observation } from './observations.projection.js';

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

/** Where a job goes, and why: the data of `job.provisioned` without the pool (the provider's). */
export interface Choice {
  readonly offer: Offer;
  readonly reason: string;
  readonly decision: ProvisionDecision;
}

export type Outcome =
  | { readonly kind: 'chosen'; readonly choice: Choice }
  /** Nothing is known of this job yet: run these short configurations first. */
  | { readonly kind: 'profile'; readonly profile: JobProfile; readonly grid: readonly Offer[] }
  /** No configuration can run it at all (e.g. it ran out of memory on the largest). */
  | { readonly kind: 'impossible'; readonly reason: string; readonly decision: ProvisionDecision };

/** At most this many alternatives travel in the decision event. */
const MAX_ALTERNATIVES = 50;

/**
 * ACAI's auto-provisioner: fits the job's runtime model (log-linear in its size parameters, a
 * measured curve in CPUs: see `fitCpuCurveModel`) on what its profile has run
 * (profiling runs and earlier jobs), predicts time and cost on every configuration, and chooses
 * by the step's deadline and budget. Without enough history it asks for profiling runs (when the
 * step says how to make one short) or runs the job as requested to learn from it.
 */
export class AutoProvisioner {
  constructor(
    private readonly book: OfferBook,
    private readonly observations: (signature: string) => Promise<Observation[]>,
    private readonly profilingRuns: number,
    /**
     * Whether a project's profile has been profiled: until it has, a job that would need profiling
     * is answered `profile` (the first starts the run, the others wait for it); after, it never is
     * again. Profiling is per project: one project's runs never decide whether another's job waits.
     */
    private readonly profiled: (project: string, signature: string) => Promise<boolean>,
  ) {}

  /** What to do with a job of `project`: run it somewhere, profile its profile first, or nothing. */
  async place(job: JobToPlace, project: string): Promise<Outcome> {
    const provision = job.provision;
    const providers = provision.providers ?? this.book.providers;
    if (provision.offer !== undefined) {
      const offer = this.book.find(provision.offer, providers);
      return { kind: 'chosen', choice: pinned(offer, provision, job) };
    }
    const profile = jobProfile(job);
    const history = await this.observations(profile.signature);
    const offers = this.book.offers(providers);
    const floor = memoryFloorMb(
      history.flatMap((o) =>
        o.memoryMb !== null && (o.outcome === 'succeeded' || o.outcome === 'out_of_memory')
          ? [{ memoryMb: o.memoryMb, outcome: o.outcome }]
          : [],
      ),
    );
    const runs = this.runsOf(history);
    if (runs === undefined) {
      if (provision.profile !== undefined && !(await this.profiled(project, profile.signature))) {
        const grid = profilingGrid(offers, {
          count: this.profilingRuns,
          minMemoryMb: Math.max(job.resources.memoryMb, floor?.floorMb ?? 0),
        });
        if (grid.length > 0) return { kind: 'profile', profile, grid };
      }
      return { kind: 'chosen', choice: this.asRequested(job, profile, history.length, providers) };
    }
    const model = fitCpuCurveModel(runs);
    // How far to trust a prediction: how far off its earlier predictions for this profile were,
    // or before any, how far off it is on each profiled run when that run is left out.
    const pastError = predictionError(history);
    const expectedError = pastError ?? crossValidatedError(runs);
    const plan = planProvisioning({
      offers,
      ...(expectedError === undefined ? {} : { predictionError: expectedError }),
      predict: (offer) => ({
        seconds: predictCpuCurve(model, { ...profile.size, cpu: effectiveCpu(offer) }),
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
   * The runs a profile's model is fitted on, once they can teach one: at least two successful
   * runs on different CPU counts (fewer, and how runtime scales with CPUs is a guess).
   */
  private runsOf(history: readonly Observation[]): RuntimeObservation[] | undefined {
    const runs = history.flatMap((o) =>
      o.outcome === 'succeeded' && o.seconds !== null && o.seconds > 0 && o.cpu !== null
        ? [{ features: { ...o.features, cpu: this.effectiveCpuOf(o) }, seconds: o.seconds }]
        : [],
    );
    return new Set(runs.map((r) => r.features.cpu)).size < 2 ? undefined : runs;
  }

  /** CPUs of an observation scaled by the speed of the configuration it ran on. */
  private effectiveCpuOf(o: Observation): number {
    if (o.offer !== null) {
      try {
        return effectiveCpu(this.book.find(o.offer));
      } catch {
        // A configuration no longer offered: its CPU count, at speed 1.
      }
    }
    return o.cpu ?? 1;
  }

  /** Not enough history and no way to profile: run as requested, and learn from it. */
  private asRequested(
    job: JobToPlace,
    profile: JobProfile,
    seen: number,
    providers: readonly string[],
  ): Choice {
    const offer = this.nearest(job.resources, providers);
    const reason = `no runtime model for this job yet (${seen} finished run${seen === 1 ? '' : 's'} of its profile; a model needs two on different CPU counts): running as requested on ${offerKey(offer)} to learn one${job.provision.profile === undefined ? '; give the step a `profile` to have short profiling runs first' : ''}`;
    return {
      offer,
      reason,
      decision: {
        rule: 'as-requested',
        success: true,
        reason,
        signature: profile.signature,
        features: profile.size,
        predictedSeconds: null,
        predictedCost: null,
        model: null,
        alternatives: [],
      },
    };
  }

  /** The cheapest configuration with at least the requested CPU and memory. */
  nearest(resources: Resources, providers: readonly string[]): Offer {
    const fitting = this.book
      .offers(providers)
      .filter((o) => o.vCpu >= resources.cpu && o.memoryMb >= resources.memoryMb)
      .sort((a, b) => a.pricePerHour - b.pricePerHour || (a.name < b.name ? -1 : 1));
    const offer = fitting[0];
    if (offer === undefined) {
      throw new AcaiError(
        ProvisioningProblems.NO_CONFIGURATION,
        `No configuration has ${resources.cpu} CPU and ${resources.memoryMb} MiB (providers: ${providers.join(', ')}): ask for fewer CPUs or less memory, or run it on a provider with bigger configurations`,
      );
    }
    return offer;
  }
}

/** What the job.provisioned event says about the configuration. */
export function offerRef(offer: Offer): OfferRef {
  return {
    provider: offer.provider,
    name: offerKey(offer),
    vCpu: offer.vCpu,
    memoryMb: offer.memoryMb,
    pricePerHour: offer.pricePerHour,
  };
}

/**
 * How far the predictions made for this profile's earlier jobs were from what they then took
 * (MAPE, a fraction), or null before any predicted job has finished. Each finished job refits the
 * model, so this is what the model has been learning from.
 */
function predictionError(history: readonly Observation[]): number | null {
  const pairs = history.flatMap((o) =>
    o.outcome === 'succeeded' && o.predictedSeconds !== null && o.seconds !== null && o.seconds > 0
      ? [{ predicted: o.predictedSeconds, actual: o.seconds }]
      : [],
  );
  return pairs.length === 0 ? null : mape(pairs);
}

function effectiveCpu(offer: Offer): number {
  return offer.vCpu * offer.speed;
}

function pinned(offer: Offer, provision: ProvisionSpec, job: JobToPlace): Choice {
  const reason = `pinned to ${offerKey(offer)} (${offer.vCpu} vCPU, ${offer.memoryMb} MiB, ${formatDollars(offer.pricePerHour)}/h) by the step`;
  let signature = '';
  let features: Record<string, number> = {};
  try {
    const profile = jobProfile({ ...job, provision });
    signature = profile.signature;
    features = profile.size;
  } catch {
    // Size parameters that are not numbers: nothing to learn, but the job can still run.
  }
  return {
    offer,
    reason,
    decision: {
      rule: 'pinned',
      success: true,
      reason,
      signature,
      features,
      predictedSeconds: null,
      predictedCost: null,
      model: null,
      alternatives: [],
    },
  };
}

/** A one-line summary of a decision for logs. */
export function describeChoice(choice: Choice): string {
  const d = choice.decision;
  return d.predictedSeconds === null
    ? `${offerKey(choice.offer)}: ${d.rule}`
    : `${offerKey(choice.offer)}: ${d.rule}, predicted ${formatSeconds(d.predictedSeconds)} / ${formatDollars(d.predictedCost ?? 0)}`;
}
