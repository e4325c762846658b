import type { TraceContext } from '@acai/eventing';

/** Jobs whose placement's trace is kept at most (the oldest is forgotten first). */
const MAX_KEPT = 100_000;

/**
 * The trace each placed job's placement came in (`job.provisioned`, as the scheduler's job
 * consumer saw it), so that its dispatch, made later by a dispatch pass, continues the run's trace
 * through the executor instead of starting one of its own. In memory and bounded: after a restart,
 * or on a replica that did not see the placement, a dispatch starts a new trace.
 */
export class PlacementTraces {
  private readonly traces = new Map<string, TraceContext>();

  constructor(private readonly max = MAX_KEPT) {}

  remember(jobId: string, trace: TraceContext): void {
    this.traces.delete(jobId);
    this.traces.set(jobId, trace);
    if (this.traces.size > this.max) this.traces.delete(this.traces.keys().next().value!);
  }

  of(jobId: string): TraceContext | undefined {
    return this.traces.get(jobId);
  }

  forget(jobId: string): void {
    this.traces.delete(jobId);
  }
}
