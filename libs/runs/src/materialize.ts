/**
 * Which derived artifacts to keep under a storage budget: the Experiment Graph's materializer
 * (Derakhshan et al.). Each artifact's utility weighs how good the models it leads to are
 * (potential) against what keeping it saves (recreation cost × uses, per byte):
 *
 *   U(v) = α · p'(v) + (1 − α) · rf'(v),   rf(v) = (uses(v) + 1) · recreate(v) / size(v)
 *
 * with p' and rf' scaled to [0, 1] over the candidates (p' by min–max over those with a quality,
 * 0 without one), α = 0.5 by default. Protected artifacts (inputs of work not done, pinned ones)
 * are kept first; the others are kept in order of utility while they fit, and the rest are evicted.
 */

/** A derived artifact (a version some job made), as the materializer weighs it. */
export interface Artifact {
  /** `fileset@version`. */
  readonly id: string;
  readonly fileset: string;
  readonly version: number;
  readonly bytes: number;
  /** Seconds the job that made it ran: what recomputing it would cost again. */
  readonly recreateSeconds: number;
  /** Jobs that read it or took it as their result instead of running. */
  readonly uses: number;
  /**
   * The best quality among the models it leads to (itself included), higher better; null when
   * none reported one.
   */
  readonly quality: number | null;
  /** Why it must be kept whatever its utility (null: it may be evicted). */
  readonly protectedBecause: string | null;
  /** Log position of its last use (or its making): what LRU orders by. */
  readonly lastUsedSeq: number;
}

export interface ScoredArtifact extends Artifact {
  readonly utility: number;
}

export interface MaterializationPlan {
  readonly budgetBytes: number;
  /** Bytes of all the candidates together. */
  readonly totalBytes: number;
  /** Bytes kept: protected ones first, even beyond the budget. */
  readonly keptBytes: number;
  readonly keep: readonly ScoredArtifact[];
  /** Lowest utility first. */
  readonly evict: readonly ScoredArtifact[];
}

export const DEFAULT_ALPHA = 0.5;

/** Every artifact with its utility (see the module's comment). */
export function scoreArtifacts(
  artifacts: readonly Artifact[],
  alpha: number = DEFAULT_ALPHA,
): ScoredArtifact[] {
  const rf = artifacts.map((a) => ((a.uses + 1) * a.recreateSeconds) / Math.max(a.bytes, 1));
  const maxRf = Math.max(0, ...rf);
  const qualities = artifacts.flatMap((a) => (a.quality === null ? [] : [a.quality]));
  const minQ = Math.min(...qualities);
  const maxQ = Math.max(...qualities);
  return artifacts.map((a, i) => {
    const p = a.quality === null ? 0 : maxQ > minQ ? (a.quality - minQ) / (maxQ - minQ) : 1;
    const r = maxRf > 0 ? rf[i]! / maxRf : 0;
    return { ...a, utility: alpha * p + (1 - alpha) * r };
  });
}

/** The utility-based plan: protected first, then by utility (ties: smaller first) while it fits. */
export function planMaterialization(
  artifacts: readonly Artifact[],
  budgetBytes: number,
  alpha: number = DEFAULT_ALPHA,
): MaterializationPlan {
  return greedy(scoreArtifacts(artifacts, alpha), budgetBytes, (a, b) =>
    b.utility !== a.utility ? b.utility - a.utility : a.bytes - b.bytes,
  );
}

/** What least-recently-used keeps under the same budget (the baseline it is measured against). */
export function planLeastRecentlyUsed(
  artifacts: readonly Artifact[],
  budgetBytes: number,
  alpha: number = DEFAULT_ALPHA,
): MaterializationPlan {
  return greedy(
    scoreArtifacts(artifacts, alpha),
    budgetBytes,
    (a, b) => b.lastUsedSeq - a.lastUsedSeq,
  );
}

function greedy(
  scored: readonly ScoredArtifact[],
  budgetBytes: number,
  order: (a: ScoredArtifact, b: ScoredArtifact) => number,
): MaterializationPlan {
  const keep: ScoredArtifact[] = [];
  const evict: ScoredArtifact[] = [];
  let kept = 0;
  for (const a of scored) {
    if (a.protectedBecause !== null) {
      keep.push(a);
      kept += a.bytes;
    }
  }
  for (const a of [...scored].filter((x) => x.protectedBecause === null).sort(order)) {
    if (kept + a.bytes <= budgetBytes) {
      keep.push(a);
      kept += a.bytes;
    } else evict.push(a);
  }
  evict.sort((a, b) => a.utility - b.utility);
  return {
    budgetBytes,
    totalBytes: scored.reduce((n, a) => n + a.bytes, 0),
    keptBytes: kept,
    keep,
    evict,
  };
}
