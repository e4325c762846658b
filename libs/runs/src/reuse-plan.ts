import type { ReusePolicy } from '@acai/contracts';

/**
 * The reuse plan of a run at submit time, after the Experiment Graph paper's linear-time planner:
 * a forward pass that finds, for each step's result, the cheaper way to have it (take an earlier
 * intact result, or compute it from its inputs), and a backward pass from the steps whose results
 * the run ends with that keeps only the first taken result on each path: a step whose result only
 * steps that take theirs read is neither taken nor computed. Pure: what earlier results exist (and
 * whether they are intact, and how long they take to stage) is found by the caller, level by level
 * (`lookupLevels`, `mayLookUp`), since a step's signature holds its inputs' content, known only
 * once the steps it reads have an earlier result.
 */

/** A step of the run as the planner sees it (a job of the run). */
export interface ReusePlanStep {
  readonly id: string;
  readonly name: string;
  /** The steps it waits for (job ids), whether it reads their outputs or not. */
  readonly needs: readonly string[];
  /** The steps among `needs` whose outputs it reads: its signature holds their content. */
  readonly reads: readonly string[];
  readonly policy: ReusePolicy;
  /**
   * Why it may not take an earlier result whatever is found (`never`, nondeterministic, code not
   * hashed, a sweep trial...); null: it may.
   */
  readonly notReusable: string | null;
}

/** What looking up a step's signature found: its project's newest earlier result, or none. */
export type ReuseFinding =
  | {
      readonly kind: 'found';
      /** The earlier job whose result it is. */
      readonly jobId: string;
      /**
       * Why its versions cannot be taken as they are (evicted, damaged...), a sentence for a
       * person saying so; null: intact.
       */
      readonly problem: string | null;
      /**
       * Measured time to stage its versions, in seconds (null: not measured). Paid by the steps that
       * read it whether it is taken or computed again (see `planReuse`).
       */
      readonly loadSeconds: number | null;
      /** How long the earlier job ran, in seconds (null: not known). */
      readonly computeSeconds: number | null;
    }
  | { readonly kind: 'none'; readonly reason: string };

/**
 * What the run does with a step: `reuse` takes the earlier result; `compute` runs it; `not_needed`
 * neither (only steps that take their own earlier results read it); `when_ready` is decided once
 * the steps it reads have committed their outputs in this run (their content is not known before).
 */
export type ReusePlanKind = 'reuse' | 'compute' | 'not_needed' | 'when_ready';

export interface PlannedReuse {
  readonly id: string;
  readonly name: string;
  readonly kind: ReusePlanKind;
  /** For a person: why. */
  readonly reason: string;
  /** The earlier job taken (reuse) or whose result made it unnecessary to look further. */
  readonly from: string | null;
}

export interface ReusePlan {
  /** In dependency order. */
  readonly steps: readonly PlannedReuse[];
  readonly counts: Readonly<Record<ReusePlanKind, number>>;
}

/**
 * The steps in dependency order, each in the level after the latest step it reads or needs: a
 * caller looks up one level's signatures in one request. Throws on a cycle or an unknown need
 * (a planned run has neither).
 */
export function lookupLevels(steps: readonly ReusePlanStep[]): string[][] {
  const order = topologicalOrder(steps);
  const level = new Map<string, number>();
  const levels: string[][] = [];
  for (const step of order) {
    let l = 0;
    for (const need of step.needs) l = Math.max(l, level.get(need)! + 1);
    level.set(step.id, l);
    (levels[l] ??= []).push(step.id);
  }
  return levels;
}

/**
 * Whether the step's signature can be looked up now: it may be reused, and every step it reads
 * has an earlier result (whose committed content its signature then holds).
 */
export function mayLookUp(
  step: ReusePlanStep,
  findings: ReadonlyMap<string, ReuseFinding>,
): boolean {
  return step.notReusable === null && step.reads.every((r) => findings.get(r)?.kind === 'found');
}

/** The plan, from what was found for each step looked up (a step not looked up is absent). */
export function planReuse(
  steps: readonly ReusePlanStep[],
  findings: ReadonlyMap<string, ReuseFinding>,
): ReusePlan {
  const order = topologicalOrder(steps);
  const byId = new Map(steps.map((s) => [s.id, s]));

  // Forward: the cheaper way to have each step's result, and what it costs (seconds).
  const choice = new Map<string, { kind: 'reuse' | 'compute' | 'when_ready'; reason: string }>();
  const have = new Map<string, number>();
  for (const step of order) {
    const found = findings.get(step.id);
    // Computing it needs its inputs: the cost of having each step it reads.
    let inputs = 0;
    for (const r of step.reads) inputs += have.get(r)!;
    if (step.notReusable !== null) {
      choice.set(step.id, { kind: 'compute', reason: step.notReusable });
      have.set(step.id, Infinity);
      continue;
    }
    if (found === undefined) {
      const unknown = step.reads.filter((r) => findings.get(r)?.kind !== 'found');
      const names = unknown.map((r) => `'${byId.get(r)!.name}'`).join(', ');
      choice.set(step.id, {
        kind: 'when_ready',
        reason: `it reads what ${names} ${unknown.length === 1 ? 'computes' : 'compute'} in this run: whether an earlier result matches is known once ${unknown.length === 1 ? 'it has' : 'they have'} committed it`,
      });
      have.set(step.id, Infinity);
      continue;
    }
    if (found.kind === 'none') {
      choice.set(step.id, { kind: 'compute', reason: found.reason });
      have.set(step.id, Infinity);
      continue;
    }
    // Unlike the paper's planner, where a result computed in the workload is in memory and only a
    // materialized one is loaded, here every step's outputs are committed to the catalog and staged
    // from it by the steps that read them: the load is paid whether the result is taken or made
    // again, so it is on both sides, and an intact result is never dearer than computing it (with
    // its inputs staged, in `computeSeconds`, and had). Taking it stages nothing now.
    const load = found.loadSeconds ?? 0;
    const compute = (found.computeSeconds ?? Infinity) + inputs + load;
    if (found.problem !== null) {
      choice.set(step.id, { kind: 'compute', reason: found.problem });
      have.set(step.id, compute);
      continue;
    }
    choice.set(step.id, {
      kind: 'reuse',
      reason: `job ${found.jobId} had the same signature and its result is intact`,
    });
    have.set(step.id, load);
  }

  // Backward, from the steps nothing in the run waits for: a step is needed when a needed step
  // that does not take an earlier result waits for it. Only a step whose earlier result is known
  // (taken, or to be computed again, the same) may be left out: any other is run for what it does.
  const dependantsOf = new Map<string, string[]>();
  for (const step of order) {
    for (const need of step.needs) {
      const list = dependantsOf.get(need);
      if (list === undefined) dependantsOf.set(need, [step.id]);
      else list.push(step.id);
    }
  }
  const needed = new Set<string>();
  for (let i = order.length - 1; i >= 0; i--) {
    const step = order[i]!;
    const known = step.notReusable === null && findings.get(step.id)?.kind === 'found';
    const waiting = dependantsOf.get(step.id) ?? [];
    if (
      !known ||
      waiting.length === 0 ||
      waiting.some((d) => needed.has(d) && choice.get(d)!.kind !== 'reuse')
    ) {
      needed.add(step.id);
    }
  }

  const counts: Record<ReusePlanKind, number> = {
    reuse: 0,
    compute: 0,
    not_needed: 0,
    when_ready: 0,
  };
  const planned = order.map((step): PlannedReuse => {
    const found = findings.get(step.id);
    const from = found?.kind === 'found' ? found.jobId : null;
    const chosen = choice.get(step.id)!;
    if (needed.has(step.id)) {
      counts[chosen.kind] += 1;
      return { id: step.id, name: step.name, kind: chosen.kind, reason: chosen.reason, from };
    }
    counts.not_needed += 1;
    const waiting = (dependantsOf.get(step.id) ?? []).map((d) => `'${byId.get(d)!.name}'`);
    return {
      id: step.id,
      name: step.name,
      kind: 'not_needed',
      reason: `no step that runs needs its result (${waiting.join(', ')} take${waiting.length === 1 ? 's' : ''} an earlier result or ${waiting.length === 1 ? 'is' : 'are'} not needed either), so it is neither taken nor computed`,
      from,
    };
  });
  return { steps: planned, counts };
}

/** Kahn's algorithm, in the order given where it is free: linear in steps and needs. */
function topologicalOrder(steps: readonly ReusePlanStep[]): ReusePlanStep[] {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const waitingOn = new Map<string, number>();
  const dependants = new Map<string, ReusePlanStep[]>();
  for (const step of steps) {
    waitingOn.set(step.id, step.needs.length);
    for (const need of step.needs) {
      if (!byId.has(need))
        throw new Error(`step '${step.name}' needs ${need}, which is not in the run`);
      const list = dependants.get(need);
      if (list === undefined) dependants.set(need, [step]);
      else list.push(step);
    }
  }
  const order = steps.filter((s) => s.needs.length === 0);
  for (let i = 0; i < order.length; i++) {
    for (const next of dependants.get(order[i]!.id) ?? []) {
      const left = waitingOn.get(next.id)! - 1;
      waitingOn.set(next.id, left);
      if (left === 0) order.push(next);
    }
  }
  if (order.length !== steps.length)
    throw new Error('the steps of the run need each other in a cycle');
  return order;
}
