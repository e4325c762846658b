/** A placed job the dispatcher holds, as the `dispatch-queue` read model has it. */
export interface WaitingJob {
  readonly project: string;
  readonly jobId: string;
  readonly runId: string | null;
  readonly pool: string;
  readonly priority: number;
  /** Its run's limit of jobs out at once (null: none). */
  readonly maxParallel: number | null;
  /** Its placement's stream position: first placed, first out (within a project and priority). */
  readonly placedSeq: number;
}

/** Jobs out (dispatched or running) of one run in one pool. */
export interface OutCount {
  readonly pool: string;
  readonly project: string;
  readonly runId: string | null;
  readonly jobs: number;
}

export interface DispatchSnapshot<J extends WaitingJob = WaitingJob> {
  /** Waiting jobs that may be released: at least the first few of every project in every pool. */
  readonly waiting: readonly J[];
  readonly out: readonly OutCount[];
  /**
   * Slots of each pool whose size is known (its nodes' heartbeats). A pool not here is not gated:
   * its waiting jobs are released at once (a pool whose nodes are launched for its jobs, or one
   * nobody reports on: holding its work would wait for nothing).
   */
  readonly capacity: ReadonlyMap<string, number>;
  /** Jobs out beyond a gated pool's slots, so a slot that frees finds work at once. */
  readonly prefetch: number;
  /** At most this many releases in one pass. */
  readonly limit: number;
}

/**
 * Which waiting jobs go to their pool's work queue now, in order. Per pool, while the jobs out are
 * fewer than its slots plus `prefetch` (ungated pools: all of them), the next job is the one of
 * the project with the fewest jobs out in that pool (a fair share: equal weights; ties go to the
 * project waiting longest), and within that project the highest run priority, then the first
 * placed. A run never has more than its `maxParallel` jobs out, across pools: its jobs wait while
 * it has that many. Pure: the counts and the capacity come in, the choice goes out.
 */
export function chooseReleases<J extends WaitingJob>(snapshot: DispatchSnapshot<J>): J[] {
  const outInPool = new Map<string, number>();
  const outOfProject = new Map<string, number>();
  const outOfRun = new Map<string, number>();
  for (const o of snapshot.out) {
    add(outInPool, o.pool, o.jobs);
    add(outOfProject, projectIn(o.pool, o.project), o.jobs);
    add(outOfRun, runKey(o.project, o.runId), o.jobs);
  }
  const queues = new Map<string, Map<string, J[]>>();
  for (const job of snapshot.waiting) {
    const pool = queues.get(job.pool) ?? new Map<string, J[]>();
    queues.set(job.pool, pool);
    const queue = pool.get(job.project) ?? [];
    pool.set(job.project, queue);
    queue.push(job);
  }
  for (const pool of queues.values()) for (const queue of pool.values()) queue.sort(byTurn);

  const runFull = (job: WaitingJob) =>
    job.maxParallel !== null &&
    (outOfRun.get(runKey(job.project, job.runId)) ?? 0) >= job.maxParallel;
  const released: J[] = [];
  for (const pool of [...queues.keys()].sort()) {
    const projects = queues.get(pool)!;
    const slots = snapshot.capacity.get(pool);
    let free =
      slots === undefined
        ? Number.POSITIVE_INFINITY
        : slots + snapshot.prefetch - (outInPool.get(pool) ?? 0);
    while (free > 0 && released.length < snapshot.limit) {
      let next: { project: string; job: J; out: number; oldest: number } | undefined;
      for (const [project, queue] of projects) {
        // A run at its limit stays there for the rest of the pass: its jobs are passed over.
        const eligible = queue.filter((j) => !runFull(j));
        projects.set(project, eligible);
        const job = eligible[0];
        if (job === undefined) continue;
        const out = outOfProject.get(projectIn(pool, project)) ?? 0;
        const oldest = Math.min(...eligible.map((j) => j.placedSeq));
        if (next === undefined || out < next.out || (out === next.out && oldest < next.oldest)) {
          next = { project, job, out, oldest };
        }
      }
      if (next === undefined) break;
      projects.get(next.project)!.shift();
      released.push(next.job);
      add(outInPool, pool, 1);
      add(outOfProject, projectIn(pool, next.project), 1);
      add(outOfRun, runKey(next.project, next.job.runId), 1);
      free -= 1;
    }
  }
  return released;
}

/** Within a project: higher priority first, then first placed. */
function byTurn(a: WaitingJob, b: WaitingJob): number {
  return b.priority - a.priority || a.placedSeq - b.placedSeq;
}

function add(counts: Map<string, number>, key: string, n: number): void {
  counts.set(key, (counts.get(key) ?? 0) + n);
}

function projectIn(pool: string, project: string): string {
  return `${pool}\u0000${project}`;
}

function runKey(project: string, runId: string | null): string {
  return `${project}\u0000${runId ?? ''}`;
}
