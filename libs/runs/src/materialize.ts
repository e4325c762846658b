/**
 * Which derived artifacts to keep under a storage budget: the Experiment Graph's materializer
 * (Derakhshan et al.). Each artifact's utility weighs how good the models it leads to are
 * (potential) against what keeping it saves (recreation cost × uses, per byte):
 *
 *   U(v) = α · p(v) + (1 − α) · rf'(v),   rf(v) = (uses(v) + 1) · recreate(v) / size(v)
 *
 * with α = 0.5 by default, and:
 * - p(v) the relative quality of the best model v leads to (1: the best model of its metric; a
 *   model with accuracy 0.95 where the best has 0.97 scores 0.98), 0 without one. Qualities of
 *   different metrics (an accuracy, an RMSE) are not compared with each other, and near-equal
 *   models are not stretched apart as min–max scaling would;
 * - recreate(v) what it takes to have v again: the job that made it, plus recreating every derived
 *   ancestor that is not kept (evicted earlier, or in the same plan), since that job needs its
 *   inputs first;
 * - rf' the rank of rf on a log scale over the candidates, min–max to [0, 1]: rf spans orders of
 *   magnitude (a 1 kB report against a 200 MB tensor set), and scaled by its maximum alone every
 *   artifact but the smallest would score about 0, leaving the potential alone to decide.
 *
 * Versions with the same content (the same manifest: a deterministic step run again by another
 * user, or a result copied from another project) share their files in the catalog: they are one
 * unit of storage, counted once against the budget, kept or evicted together (evicting one while
 * another is kept frees nothing), weighed by what keeping them all saves: rf = Σ (uses + 1) ·
 * recreate / size over the versions, p the best of theirs.
 *
 * Protected artifacts (inputs of work not done, pinned ones) are kept first; the others are kept
 * in order of utility while they fit, and the rest are evicted.
 */

/** A derived artifact (a version some job made), as the materializer weighs it. */
export interface Artifact {
  /** `fileset@version`. */
  readonly id: string;
  readonly fileset: string;
  readonly version: number;
  readonly bytes: number;
  /**
   * What it holds (its manifest's sha256): versions with the same content share their files and
   * count once against the budget. Absent: its own.
   */
  readonly content?: string;
  /**
   * Seconds the job that made it ran, plus those of recreating its derived ancestors already
   * evicted: what having it again would cost if all it is made from that is kept stays kept.
   */
  readonly recreateSeconds: number;
  /** The candidates (ids) the job that made it read: evicting one of them makes this dearer. */
  readonly madeFrom?: readonly string[];
  /** Jobs that read it or took it as their result instead of running. */
  readonly uses: number;
  /**
   * The relative quality, in [0, 1], of the best model it leads to (itself included): 1 for the
   * best model of that model's metric; null when none reported one.
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

/** How many times a plan is weighed again after evicting ancestors made other artifacts dearer. */
const MAX_PASSES = 5;

export interface MaterializationPlan {
  readonly budgetBytes: number;
  /** Bytes of all the candidates together, each content once. */
  readonly totalBytes: number;
  /** Bytes kept, each content once: protected ones first, even beyond the budget. */
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
  const units = storageUnits(artifacts);
  const rf = units.map(
    (u) =>
      u.members.reduce((sum, a) => sum + (a.uses + 1) * a.recreateSeconds, 0) /
      Math.max(u.bytes, 1),
  );
  const logs = rf.flatMap((x) => (x > 0 ? [Math.log(x)] : []));
  const lo = Math.min(...logs);
  const hi = Math.max(...logs);
  const utility = new Map<Artifact, number>();
  units.forEach((u, i) => {
    const x = rf[i]!;
    const r = x <= 0 ? 0 : hi > lo ? (Math.log(x) - lo) / (hi - lo) : 1;
    const q = Math.max(...u.members.map((a) => (a.quality === null ? 0 : a.quality)));
    const p = Math.min(1, Math.max(0, q));
    for (const a of u.members) utility.set(a, alpha * p + (1 - alpha) * r);
  });
  return artifacts.map((a) => ({ ...a, utility: utility.get(a)! }));
}

/** Versions that share their files (the same content), in the order their first one comes. */
interface StorageUnit<A extends Artifact> {
  readonly members: A[];
  readonly bytes: number;
}

function storageUnits<A extends Artifact>(artifacts: readonly A[]): StorageUnit<A>[] {
  const units: StorageUnit<A>[] = [];
  const byContent = new Map<string, A[]>();
  for (const a of artifacts) {
    const same = a.content === undefined ? undefined : byContent.get(a.content);
    if (same !== undefined) {
      same.push(a);
      continue;
    }
    const members = [a];
    if (a.content !== undefined) byContent.set(a.content, members);
    units.push({ members, bytes: a.bytes });
  }
  return units;
}

/**
 * The utility-based plan: protected first, then by utility (ties: smaller first) while it fits.
 * An artifact whose ancestor the plan evicts costs that ancestor's recreation too: the plan is
 * weighed again with those costs until it evicts nothing new.
 */
export function planMaterialization(
  artifacts: readonly Artifact[],
  budgetBytes: number,
  alpha: number = DEFAULT_ALPHA,
): MaterializationPlan {
  const byUtility = (a: StorageUnit<ScoredArtifact>, b: StorageUnit<ScoredArtifact>): number =>
    b.members[0]!.utility !== a.members[0]!.utility
      ? b.members[0]!.utility - a.members[0]!.utility
      : a.bytes - b.bytes;
  let plan = greedy(scoreArtifacts(artifacts, alpha), budgetBytes, byUtility);
  for (let pass = 1; pass < MAX_PASSES; pass++) {
    const evicted = new Set(plan.evict.map((a) => a.id));
    const dearer = withEvictedAncestors(artifacts, evicted);
    const next = greedy(scoreArtifacts(dearer, alpha), budgetBytes, byUtility);
    const same =
      next.evict.length === plan.evict.length && next.evict.every((a) => evicted.has(a.id));
    plan = next;
    if (same) break;
  }
  return plan;
}

/** Each artifact's recreation cost with that of its ancestors among `evicted` added. */
function withEvictedAncestors(
  artifacts: readonly Artifact[],
  evicted: ReadonlySet<string>,
): Artifact[] {
  const byId = new Map(artifacts.map((a) => [a.id, a] as const));
  const cost = new Map<string, number>();
  const recreate = (a: Artifact, seen: Set<string>): number => {
    const known = cost.get(a.id);
    if (known !== undefined) return known;
    seen.add(a.id);
    let seconds = a.recreateSeconds;
    for (const id of a.madeFrom ?? []) {
      const parent = byId.get(id);
      if (parent === undefined || !evicted.has(id) || seen.has(id)) continue;
      seconds += recreate(parent, seen);
    }
    cost.set(a.id, seconds);
    return seconds;
  };
  return artifacts.map((a) => ({ ...a, recreateSeconds: recreate(a, new Set()) }));
}

/**
 * The baseline utility is measured against (policy `lru`): the most recently used kept first while
 * they fit; one that does not fit is skipped and older, smaller ones may still fill the room. Kinder
 * than a cache's LRU ({@link planStrictLeastRecentlyUsed}): a big recent artifact does not push out
 * everything older.
 */
export function planLeastRecentlyUsed(
  artifacts: readonly Artifact[],
  budgetBytes: number,
  alpha: number = DEFAULT_ALPHA,
): MaterializationPlan {
  return greedy(scoreArtifacts(artifacts, alpha), budgetBytes, (a, b) => lastUsed(b) - lastUsed(a));
}

/**
 * Least-recently-used as a cache does it (policy `lru-strict`): the least recently used evicted,
 * one after the other, until what is left fits the budget. What is left is the most recent suffix:
 * a big recent artifact that does not fit is evicted last, after everything older than it.
 */
export function planStrictLeastRecentlyUsed(
  artifacts: readonly Artifact[],
  budgetBytes: number,
  alpha: number = DEFAULT_ALPHA,
): MaterializationPlan {
  const units = storageUnits(scoreArtifacts(artifacts, alpha));
  const isProtected = (u: StorageUnit<ScoredArtifact>): boolean =>
    u.members.some((a) => a.protectedBecause !== null);
  let kept = units.reduce((n, u) => n + u.bytes, 0);
  const gone = new Set<StorageUnit<ScoredArtifact>>();
  for (const u of units.filter((x) => !isProtected(x)).sort((a, b) => lastUsed(a) - lastUsed(b))) {
    if (kept <= budgetBytes) break;
    gone.add(u);
    kept -= u.bytes;
  }
  return {
    budgetBytes,
    totalBytes: units.reduce((n, u) => n + u.bytes, 0),
    keptBytes: kept,
    keep: units.filter((u) => !gone.has(u)).flatMap((u) => u.members),
    evict: [...gone].flatMap((u) => u.members).sort((a, b) => a.utility - b.utility),
  };
}

/** A unit of storage is used when any of its versions is. */
function lastUsed(u: StorageUnit<Artifact>): number {
  return Math.max(...u.members.map((a) => a.lastUsedSeq));
}

/**
 * Protected units first, then the others in `order` while they fit (one that does not fit is
 * skipped, and smaller ones after it may still fit).
 */
function greedy(
  scored: readonly ScoredArtifact[],
  budgetBytes: number,
  order: (a: StorageUnit<ScoredArtifact>, b: StorageUnit<ScoredArtifact>) => number,
): MaterializationPlan {
  const keep: ScoredArtifact[] = [];
  const evict: ScoredArtifact[] = [];
  let kept = 0;
  const units = storageUnits(scored);
  const isProtected = (u: StorageUnit<ScoredArtifact>): boolean =>
    u.members.some((a) => a.protectedBecause !== null);
  for (const u of units.filter(isProtected)) {
    keep.push(...u.members);
    kept += u.bytes;
  }
  for (const u of units.filter((x) => !isProtected(x)).sort(order)) {
    if (kept + u.bytes <= budgetBytes) {
      keep.push(...u.members);
      kept += u.bytes;
    } else evict.push(...u.members);
  }
  evict.sort((a, b) => a.utility - b.utility);
  return {
    budgetBytes,
    totalBytes: units.reduce((n, u) => n + u.bytes, 0),
    keptBytes: kept,
    keep,
    evict,
  };
}

/** A model's last value of the metric that says how good it is. */
export interface ModelQuality {
  readonly id: string;
  readonly metric: string;
  readonly goal: 'max' | 'min';
  readonly value: number;
}

/**
 * Each model's quality relative to the best of its metric and goal among `models`, in [0, 1]:
 * value / best for a metric to maximise, best / value for one to minimise (errors such as an RMSE),
 * so 1 is the best model of its metric. Metrics are never compared with each other.
 */
export function relativeQualities(models: readonly ModelQuality[]): [string, number][] {
  const key = (m: ModelQuality): string => `${m.goal}:${m.metric}`;
  const size = (m: ModelQuality): number => (m.goal === 'min' ? Math.abs(m.value) : m.value);
  const best = new Map<string, number>();
  for (const m of models) {
    const b = best.get(key(m));
    const v = size(m);
    if (b === undefined || (m.goal === 'min' ? v < b : v > b)) best.set(key(m), v);
  }
  return models.map((m) => {
    const b = best.get(key(m))!;
    const v = size(m);
    const r = m.goal === 'min' ? (v === 0 ? 1 : b / v) : b <= 0 ? 0 : v / b;
    return [m.id, Math.min(1, Math.max(0, r))];
  });
}
