import type { ReusableResult, ReusedFrom, StoredEvent } from '@acai/contracts';

/** A row of `job_signatures` as the index keeps it: what a lookup answers, nothing more. */
export interface IndexedJob {
  readonly project: string;
  readonly jobId: string;
  readonly runId: string;
  readonly name: string;
  readonly signature: string;
  /** `ended`: failed, cancelled or skipped (kept so that a later `job.queued` changes nothing). */
  status: 'queued' | 'succeeded' | 'reused' | 'ended';
  outputs: ReusableResult['outputs'];
  durationMs: number | null;
  pricePerHour: number | null;
  readonly reusedFrom: string | null;
  /** The log position of the event that made the row (`job.queued` or `job.reused`). */
  readonly seq: number;
}

const NO_OUTPUTS: ReusableResult['outputs'] = [];

/**
 * What a `job.reused` says computing its result took: the earlier job's running time (ms, rounded
 * as `job.succeeded`'s is kept) and price per hour (from what it cost). Used where the earlier
 * job's row is not the project's (a result of a project that shares its own), so that the job
 * that reused it, reused in turn, still says what taking it saves.
 */
export function reusedCosts(from: ReusedFrom): {
  durationMs: number | null;
  pricePerHour: number | null;
} {
  const seconds = from.savedSeconds;
  return {
    durationMs: seconds === null ? null : Math.round(seconds * 1000),
    pricePerHour:
      seconds === null || seconds <= 0 || from.savedCost === null
        ? null
        : (from.savedCost * 3600) / seconds,
  };
}

/**
 * `job_signatures` and `reuse_sharing` in memory, for the reuse lookup: the rows kept and changed
 * exactly as `SignaturesProjection` and `SharingProjection` write them, from the same events (or
 * loaded from the tables), so that `findResults` answers what `SqlSignaturesRepository.findResults`
 * would. Pure: no I/O; whoever keeps it decides when it may answer (see `ReuseLookup`).
 */
export class ResultsIndex {
  /** Every signed job, by `project\0jobId`. */
  private readonly jobs = new Map<string, IndexedJob>();
  /** The results (succeeded or reused) of each `project\0signature`, newest (highest seq) first. */
  private readonly results = new Map<string, IndexedJob[]>();
  /**
   * The manifest hash of each version a job committed, by `project\0fileset\0version`: what a
   * step reading a result's output is signed with (`lookUpSteps`). Versions never change.
   */
  private readonly manifests = new Map<string, string>();
  /** Whom each project shares its results with. */
  private readonly sharesWith = new Map<string, readonly string[]>();
  /** The projects that share their results with each project. */
  private readonly sharers = new Map<string, Set<string>>();

  /** Signed jobs, and those with a result. */
  get size(): { jobs: number; results: number; manifests: number } {
    let results = 0;
    for (const list of this.results.values()) results += list.length;
    return { jobs: this.jobs.size, results, manifests: this.manifests.size };
  }

  /** Empties the jobs (and the manifests of what they committed), before loading them again. */
  clearJobs(): void {
    this.jobs.clear();
    this.results.clear();
    this.manifests.clear();
  }

  /** A version a job committed, as loaded (from the lineage graph's version nodes). */
  loadManifest(project: string, fileset: string, version: number, sha256: string): void {
    this.manifests.set(versionKey(project, fileset, version), sha256);
  }

  /** The manifest hash of a version a job committed (undefined: not known). */
  manifestOf(project: string, fileset: string, version: number): string | undefined {
    return this.manifests.get(versionKey(project, fileset, version));
  }

  /** Empties the sharing, before loading it again. */
  clearSharing(): void {
    this.sharesWith.clear();
    this.sharers.clear();
  }

  /** A row as loaded from `job_signatures`. */
  load(job: IndexedJob): void {
    this.jobs.set(key(job.project, job.jobId), job);
    if (job.status === 'succeeded' || job.status === 'reused') this.addResult(job);
  }

  /** The project's list as loaded from `reuse_sharing`. */
  loadSharing(project: string, sharesWith: readonly string[]): void {
    this.share(project, sharesWith);
  }

  /** The job events, as `SignaturesProjection.apply` writes them. */
  applyJobs(events: readonly StoredEvent[]): void {
    for (const event of events) {
      const id = key(event.project, event.aggregateId);
      switch (event.type) {
        case 'job.queued': {
          const signature = event.data.signature;
          if (signature === undefined || this.jobs.has(id)) break;
          this.jobs.set(id, {
            project: event.project,
            jobId: event.aggregateId,
            runId: event.data.runId,
            name: event.data.name,
            signature: signature.sha256,
            status: 'queued',
            outputs: NO_OUTPUTS,
            durationMs: null,
            pricePerHour: null,
            reusedFrom: null,
            seq: event.position.seq,
          });
          break;
        }
        case 'job.reused': {
          if (this.jobs.has(id)) break;
          // What it saved is what the job it took the result of ran for (kept for its own reusers):
          // that job's row in this project, else what the event says (another project's result).
          const from = this.jobs.get(key(event.project, event.data.from.jobId));
          const saved = reusedCosts(event.data.from);
          const job: IndexedJob = {
            project: event.project,
            jobId: event.aggregateId,
            runId: event.data.runId,
            name: event.data.name,
            signature: event.data.signature.sha256,
            status: 'reused',
            outputs: event.data.outputs,
            durationMs: from?.durationMs ?? saved.durationMs,
            pricePerHour: from?.pricePerHour ?? saved.pricePerHour,
            reusedFrom: event.data.from.jobId,
            seq: event.position.seq,
          };
          this.jobs.set(id, job);
          this.addResult(job);
          break;
        }
        case 'job.provisioned': {
          const job = this.jobs.get(id);
          if (job !== undefined) job.pricePerHour = event.data.offer?.pricePerHour ?? null;
          break;
        }
        case 'job.succeeded': {
          const job = this.jobs.get(id);
          if (job?.status !== 'queued') break;
          job.status = 'succeeded';
          job.outputs = event.data.outputs;
          job.durationMs = Math.round(event.data.durationMs);
          this.addResult(job);
          break;
        }
        case 'job.failed':
        case 'job.cancelled':
        case 'job.skipped': {
          const job = this.jobs.get(id);
          if (job?.status === 'queued') job.status = 'ended';
          break;
        }
        case 'fileset.version_committed':
          if (event.data.createdBy.kind === 'job') {
            this.loadManifest(
              event.project,
              event.aggregateId,
              event.data.version,
              event.data.manifest.sha256,
            );
          }
          break;
        default:
          break;
      }
    }
  }

  /** `project.reuse_sharing_changed`, as `SharingProjection.apply` writes it. */
  applySharing(events: readonly StoredEvent[]): void {
    for (const event of events) {
      if (event.type === 'project.reuse_sharing_changed')
        this.share(event.project, event.data.with);
    }
  }

  /**
   * The `limit` newest results of the project with `signature` other than `excludeJobId`'s, then
   * those of the projects that share theirs with it, newest first (each marked with its project).
   */
  findResults(
    project: string,
    signature: string,
    excludeJobId: string,
    limit: number,
  ): ReusableResult[] {
    const found: ReusableResult[] = [];
    for (const job of this.results.get(key(project, signature)) ?? []) {
      if (found.length >= limit) return found;
      if (job.jobId !== excludeJobId) found.push(asResult(job, false));
    }
    const sharers = this.sharers.get(project);
    if (sharers === undefined || found.length >= limit) return found;
    const others: IndexedJob[] = [];
    for (const sharer of sharers) {
      for (const job of this.results.get(key(sharer, signature)) ?? []) {
        if (job.jobId !== excludeJobId) others.push(job);
      }
    }
    others.sort((a, b) => b.seq - a.seq);
    for (const job of others.slice(0, limit - found.length)) found.push(asResult(job, true));
    return found;
  }

  private addResult(job: IndexedJob): void {
    const id = key(job.project, job.signature);
    const list = this.results.get(id);
    if (list === undefined) {
      this.results.set(id, [job]);
      return;
    }
    // Newest first; a job usually ends after those queued before it, so this is mostly the front.
    let at = 0;
    while (at < list.length && list[at]!.seq > job.seq) at++;
    if (list[at]?.jobId === job.jobId && list[at]?.project === job.project) return;
    list.splice(at, 0, job);
  }

  private share(project: string, next: readonly string[]): void {
    for (const other of this.sharesWith.get(project) ?? []) {
      const set = this.sharers.get(other);
      set?.delete(project);
      if (set?.size === 0) this.sharers.delete(other);
    }
    const list = [...new Set(next)].filter((p) => p !== project);
    if (list.length === 0) this.sharesWith.delete(project);
    else this.sharesWith.set(project, list);
    for (const other of list) {
      let set = this.sharers.get(other);
      if (set === undefined) this.sharers.set(other, (set = new Set()));
      set.add(project);
    }
  }
}

function key(project: string, id: string): string {
  return `${project}\u0000${id}`;
}

function versionKey(project: string, fileset: string, version: number): string {
  return `${project}\u0000${fileset}\u0000${version}`;
}

function asResult(job: IndexedJob, shared: boolean): ReusableResult {
  return {
    ...(shared ? { project: job.project } : {}),
    jobId: job.jobId,
    runId: job.runId,
    name: job.name,
    outputs: job.outputs,
    durationMs: job.durationMs,
    pricePerHour: job.pricePerHour,
    reusedFrom: job.reusedFrom,
  };
}
