import type { ReusableResult, StoredEvent } from '@acai/contracts';

/** The event types that change the index: the only ones a process keeping it needs to read. */
export const signatureIndexEvents: ReadonlySet<string> = new Set([
  'job.queued',
  'job.succeeded',
  'job.reused',
  'job.failed',
  'job.cancelled',
  'job.skipped',
]);

interface Pending {
  readonly signature: string;
  readonly runId: string;
  readonly name: string;
}

interface Indexed {
  readonly seq: number;
  readonly result: ReusableResult;
}

/**
 * The newest result of each signature, per project, in memory: what provenance's
 * `job_signatures` answers to `findReusable`, kept by a process from the job events so that
 * planning a run needs no round trip per step. A job counts once it has succeeded or reused an
 * earlier result, with the signature its `job.queued` (or `job.reused`) recorded; a signature that
 * could not be completed (code not hashed) is never indexed. Built by replaying the events in
 * order; applying an event again, or an older one after a newer, changes nothing. Pure: no I/O;
 * whether a result is still intact is for the catalog to say.
 */
export class SignatureIndex {
  private readonly pending = new Map<string, Pending>();
  private readonly newest = new Map<string, Indexed>();
  private seen = 0;

  /** How many signatures have a result. */
  get size(): number {
    return this.newest.size;
  }

  apply(event: StoredEvent): void {
    const seq = event.position.seq;
    const job = `${event.project}\u0000${event.aggregateId}`;
    switch (event.type) {
      case 'job.queued': {
        const signature = event.data.signature;
        if (signature?.complete === true) {
          this.pending.set(job, {
            signature: signature.sha256,
            runId: event.data.runId,
            name: event.data.name,
          });
        }
        break;
      }
      case 'job.succeeded': {
        const queued = this.pending.get(job);
        if (queued === undefined) break;
        this.pending.delete(job);
        this.index(event.project, queued.signature, seq, {
          jobId: event.aggregateId,
          runId: queued.runId,
          name: queued.name,
          outputs: event.data.outputs,
          durationMs: event.data.durationMs,
          pricePerHour: null,
          reusedFrom: null,
        });
        break;
      }
      case 'job.reused':
        if (!event.data.signature.complete) break;
        this.index(event.project, event.data.signature.sha256, seq, {
          jobId: event.aggregateId,
          runId: event.data.runId,
          name: event.data.name,
          outputs: event.data.outputs,
          durationMs:
            event.data.from.savedSeconds === null ? null : event.data.from.savedSeconds * 1000,
          pricePerHour: null,
          reusedFrom: event.data.from.jobId,
        });
        break;
      case 'job.failed':
      case 'job.cancelled':
      case 'job.skipped':
        this.pending.delete(job);
        break;
      default:
        break;
    }
    this.seen = Math.max(this.seen, seq);
  }

  /** The project's newest result with the signature, other than `excludeJobId`'s (null: none). */
  find(project: string, signature: string, excludeJobId: string): ReusableResult | null {
    const hit = this.newest.get(`${project}\u0000${signature}`);
    return hit === undefined || hit.result.jobId === excludeJobId ? null : hit.result;
  }

  /** The stream sequence of the last event applied (0: none): where to go on reading from. */
  get position(): number {
    return this.seen;
  }

  private index(project: string, signature: string, seq: number, result: ReusableResult): void {
    const key = `${project}\u0000${signature}`;
    const known = this.newest.get(key);
    if (known !== undefined && known.seq >= seq) return;
    this.newest.set(key, { seq, result });
  }
}
