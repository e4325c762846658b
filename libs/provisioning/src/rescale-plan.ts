import type { CandidateView, RescaleConfiguration } from '@acai/contracts';
import { formatDollars, formatSeconds } from './format.js';
import { offerKey, type Offer } from './offers.js';
import { poissonQuantile, SPOT_DEADLINE_CONFIDENCE } from './plan.js';

/**
 * The share of a training step's work that runs in parallel over more CPUs (Amdahl), when nothing
 * better is known. Measured on MNIST training here: the second core gives 1.6×, so
 * 1/1.6 = (1 − p) + p/2, p = 0.75. A job that scales better only gains more than predicted.
 */
export const DEFAULT_PARALLEL_FRACTION = 0.75;

/** A move must save at least this share of the time left to be worth a restart when late anyway. */
const LEAST_LATE_GAIN = 0.1;

/** At most this many other configurations travel in the decision. */
const MAX_ALTERNATIVES = 20;

export interface RescaleRequest {
  /** Where the job runs now. */
  readonly current: Offer;
  /** The configurations it could move to (the current one may be among them). */
  readonly offers: readonly Offer[];
  /** The memory the job needs, MiB. */
  readonly memoryMb: number;
  readonly now: Date;
  readonly stepsLeft: number;
  /** Steps done since the last checkpoint: a moved job does them again. */
  readonly lostSteps: number;
  /** The measured rate where it runs now. */
  readonly stepsPerSecond: number;
  /** Seconds a new attempt takes before its first step (booting the configuration aside). */
  readonly startupSeconds: number;
  /** USD spent on the job so far. */
  readonly spent: number;
  readonly finishBy: Date | null;
  readonly maxCost: number | null;
  /** Amdahl's parallel fraction of the job's work (default {@link DEFAULT_PARALLEL_FRACTION}). */
  readonly parallel?: number;
  /**
   * Seconds one Spot interruption costs the job (a new node's start, its start-up, the work since
   * its checkpoint): on a Spot configuration its deadline is held against the interruptions its
   * remaining time is exposed to at {@link SPOT_DEADLINE_CONFIDENCE} (Poisson at the offer's
   * rate), and its cost counts them on average, as when it was placed (absent: none counted).
   */
  readonly spotLossSeconds?: number;
  /**
   * Per provider, the measured wait from queued to started beyond a boot (`PlacementWaits`): a
   * move pays it too (absent: nothing added).
   */
  readonly startWaitSeconds?: Readonly<Record<string, number>>;
}

export interface RescalePlan {
  readonly decision: 'stay' | 'up' | 'down';
  readonly reason: string;
  readonly from: RescaleConfiguration;
  readonly to: RescaleConfiguration | null;
  readonly alternatives: CandidateView[];
  /**
   * The least the job is predicted to cost where it runs or on any configuration it could move
   * to, with one more Spot interruption held back on Spot (`spotReserve`): what a budget is
   * judged against (null: no configuration predicts a cost).
   */
  readonly leastCost: number | null;
}

interface Judged {
  readonly offer: Offer;
  readonly config: RescaleConfiguration;
  readonly seconds: number;
  /** What its deadline is held against: `seconds` with Spot interruptions counted. */
  readonly held: number;
  /** Spot interruptions `held` counts. */
  readonly losses: number;
  readonly cost: number;
  /** USD held back on Spot for one more interruption beyond those `cost` counts on average. */
  readonly reserve: number;
  readonly meetsDeadline: boolean;
  readonly meetsBudget: boolean;
}

/**
 * SMLT's re-optimisation for one running job: from the rate it was measured at where it runs,
 * predict its end and cost on every configuration it could move to (the rate scaled by each
 * one's compute, Amdahl over its vCPUs × their speed; a move pays the configuration's boot, the
 * measured wait to start beyond it, the job's start-up and the steps since its checkpoint again),
 * and choose:
 * - predicted to miss its deadline where it is: the cheapest that meets it (and the budget); if
 *   none does, the fastest, when it ends at least 10 % of the time left sooner (least late); a
 *   job late on Spot looks at on-demand configurations only (its margin for interruptions is
 *   spent), any other at its own kind of capacity;
 * - predicted to overspend its budget: the fastest that keeps within it (and the deadline). On
 *   Spot, a budget holds back the cost of one more interruption before it comes (or as many as
 *   its time left expects): a job whose budget left no longer covers one may move to on-demand
 *   capacity or a cheaper configuration; `leastCost` says what the cheapest of all would cost
 *   so held, for the caller to stop it when even that is over what is left;
 * - otherwise, or when nothing helps: stay, saying why. Pure.
 */
export function planRescale(request: RescaleRequest): RescalePlan {
  const p = request.parallel ?? DEFAULT_PARALLEL_FRACTION;
  const compute = (o: Offer) => o.speed / (1 - p + p / o.vCpu);
  const here = compute(request.current);
  const judge = (offer: Offer, stay: boolean): Judged => {
    const rate = request.stepsPerSecond * (compute(offer) / here);
    const running = stay
      ? request.stepsLeft / request.stepsPerSecond
      : offer.bootSeconds +
        (request.startWaitSeconds?.[offer.provider] ?? 0) +
        request.startupSeconds +
        (request.stepsLeft + request.lostSteps) / rate;
    // On Spot, what the interruptions its remaining time is exposed to would cost it.
    const perLoss = offer.spot ? (request.spotLossSeconds ?? 0) : 0;
    const mean = perLoss > 0 ? (offer.interruptionsPerHour * running) / 3600 : 0;
    const losses = mean > 0 ? poissonQuantile(mean, SPOT_DEADLINE_CONFIDENCE) : 0;
    const seconds = running + mean * perLoss;
    const held = running + Math.max(mean, losses) * perLoss;
    const cost = request.spent + (seconds * offer.pricePerHour) / 3600;
    // A budget is a bill not to pass: on Spot, while it runs, it must still pay for the next
    // interruption when that comes (at least one, or as many as its time left expects), so the
    // loss never arrives when the budget left can no longer pay for it.
    const reserve =
      perLoss > 0 && running > 0
        ? (Math.max(0, 1 - mean) * perLoss * offer.pricePerHour) / 3600
        : 0;
    const finish = new Date(request.now.getTime() + seconds * 1000);
    return {
      offer,
      seconds,
      held,
      losses,
      cost,
      reserve,
      meetsDeadline:
        request.finishBy === null ||
        request.now.getTime() + held * 1000 <= request.finishBy.getTime(),
      meetsBudget: request.maxCost === null || cost + reserve <= request.maxCost,
      config: {
        provider: offer.provider,
        // As requests name it (`c5.large:spot`): the job is pinned to it by this name.
        name: offerKey(offer),
        vCpu: offer.vCpu,
        memoryMb: offer.memoryMb,
        pricePerHour: offer.pricePerHour,
        predictedSeconds: round(seconds),
        predictedCost: round(cost, 6),
        predictedFinish: finish.toISOString(),
        ...(reserve > 0 ? { spotReserve: round(reserve, 6) } : {}),
      },
    };
  };
  const stay = judge(request.current, true);
  // Late on Spot, the margin the plan kept for interruptions is gone: it falls back to on-demand
  // rather than bet the deadline on Spot again. Otherwise it stays on its kind of capacity.
  // Over its budget on Spot (the next interruption held back), it may move to on-demand capacity,
  // which no interruption sets back, as to a cheaper Spot configuration.
  const late = !stay.meetsDeadline;
  const spotGone = late && request.current.spot;
  const anyKind = !late && !stay.meetsBudget && request.current.spot && stay.reserve > 0;
  const others = request.offers
    .filter(
      (o) =>
        offerKey(o) !== offerKey(request.current) &&
        o.provider === request.current.provider &&
        (anyKind || (spotGone ? !o.spot : o.spot === request.current.spot)) &&
        o.memoryMb >= request.memoryMb,
    )
    .map((o) => judge(o, false));
  const alternatives = [...others]
    .sort(
      (a, b) =>
        Number(b.meetsDeadline && b.meetsBudget) - Number(a.meetsDeadline && a.meetsBudget) ||
        a.cost - b.cost ||
        a.seconds - b.seconds,
    )
    .slice(0, MAX_ALTERNATIVES)
    .map(candidateOf);
  const held = [stay, ...others].map((j) => j.cost + j.reserve);
  const leastCost = held.length === 0 ? null : round(Math.min(...held), 6);
  const move = (to: Judged, reason: string): RescalePlan => ({
    // As fast off Spot onto on-demand capacity is a move for the deadline: up.
    decision:
      compute(to.offer) > here || (compute(to.offer) === here && !to.offer.spot) ? 'up' : 'down',
    reason,
    from: stay.config,
    to: to.config,
    alternatives,
    leastCost,
  });
  const keep = (reason: string): RescalePlan => ({
    decision: 'stay',
    reason,
    from: stay.config,
    to: null,
    alternatives,
    leastCost,
  });
  const where = `on ${offerKey(request.current)}`;
  if (late && request.finishBy !== null) {
    const by = request.finishBy;
    const lateBy = `${formatSeconds(
      (request.now.getTime() + stay.held * 1000 - by.getTime()) / 1000,
    )}${stay.losses > 0 ? ` with ${stay.losses} more Spot interruption${stay.losses === 1 ? '' : 's'} (${Math.round(SPOT_DEADLINE_CONFIDENCE * 100)} % of runs have no more)` : ''}`;
    const meeting = cheapest(others.filter((j) => j.meetsDeadline && j.meetsBudget));
    if (meeting !== undefined) {
      return move(
        meeting,
        `predicted to finish ${lateBy} after its deadline ${where} (${formatSeconds(stay.seconds)} left at the measured rate); ${offerKey(meeting.offer)} is the cheapest that meets it: ${formatSeconds(meeting.seconds)} with the restart, ${formatDollars(meeting.cost)} in all`,
      );
    }
    const fastest = [...others].filter((j) => j.meetsBudget).sort((a, b) => a.held - b.held)[0];
    if (fastest !== undefined && fastest.held < stay.held * (1 - LEAST_LATE_GAIN)) {
      return move(
        fastest,
        `predicted to finish ${lateBy} after its deadline ${where}; no configuration meets it, ${offerKey(fastest.offer)} is the least late: ${formatSeconds(fastest.seconds)} with the restart against ${formatSeconds(stay.seconds)}`,
      );
    }
    return keep(
      `predicted to finish ${lateBy} after its deadline ${where}, and no configuration${request.maxCost === null ? '' : ' within its budget'} ends it sooner by enough to pay for the restart: it stays`,
    );
  }
  if (!stay.meetsBudget && request.maxCost !== null) {
    const within = others
      .filter((j) => j.meetsBudget && j.meetsDeadline)
      .sort((a, b) => a.seconds - b.seconds || a.cost - b.cost)[0];
    const over = formatDollars(stay.cost + stay.reserve - request.maxCost);
    const predicted =
      stay.reserve > 0
        ? `predicted to cost ${formatDollars(stay.cost)} ${where} and ${formatDollars(stay.cost + stay.reserve)} if one more Spot interruption comes (${formatSeconds(request.spotLossSeconds ?? 0)} lost: the wait for a new node, its start-up and the work since its checkpoint), ${over} over its budget of ${formatDollars(request.maxCost)}`
        : `predicted to cost ${formatDollars(stay.cost)} ${where}, ${over} over its budget of ${formatDollars(request.maxCost)}`;
    if (within !== undefined) {
      return move(
        within,
        `${predicted}; ${offerKey(within.offer)} is the fastest within it: ${formatDollars(within.cost)} in all${within.reserve > 0 ? ` (${formatDollars(within.cost + within.reserve)} with one more interruption)` : ''}, ${formatSeconds(within.seconds)} with the restart`,
      );
    }
    return keep(
      `${predicted}, and no configuration${request.finishBy === null ? '' : ' that meets its deadline'} costs less: it stays`,
    );
  }
  return keep(
    `on course ${where}: ${formatSeconds(stay.seconds)} and ${formatDollars(stay.cost)} predicted`,
  );
}

function cheapest(judged: readonly Judged[]): Judged | undefined {
  return [...judged].sort((a, b) => a.cost - b.cost || a.seconds - b.seconds)[0];
}

function candidateOf(j: Judged): CandidateView {
  const whyNot = [
    ...(j.meetsDeadline ? [] : ['misses the deadline']),
    ...(j.meetsBudget ? [] : ['over the budget']),
  ];
  return {
    offer: offerKey(j.offer),
    provider: j.offer.provider,
    predictedSeconds: j.config.predictedSeconds,
    predictedCost: j.config.predictedCost,
    feasible: whyNot.length === 0,
    whyNot: whyNot.length === 0 ? null : whyNot.join(', '),
  };
}

function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
