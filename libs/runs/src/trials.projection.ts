import {
  TERMINAL_JOB_STATUSES,
  type BestTrial,
  type Projection,
  type StoredEvent,
  type SweepView,
  type TrialView,
} from '@acai/contracts';
import { jobStatusAfter } from './history.projection.js';

/** The trials of one run's sweeps, as GET /api/v1/runs/{id}/trials answers (and its project). */
export interface RunTrialsDoc {
  readonly project: string;
  readonly runId: string;
  readonly sweeps: SweepView[];
}

/**
 * `run-trials`: one document per run that sweeps, with every trial's parameters, status, last
 * metrics, objective and why it stopped, and each sweep's best trial (the leader until it
 * completes). Job events find their run by correlation id; runs without sweeps have no document.
 */
export const trialsProjection: Projection<RunTrialsDoc> = {
  name: 'run-trials',
  keys(event) {
    if (event.type === 'run.submitted')
      return (event.data.sweeps ?? []).length > 0 ? [event.aggregateId] : [];
    if (event.type === 'run.sweep_completed') return [event.aggregateId];
    if (event.aggregate !== 'job' || event.correlationId === null) return [];
    return event.type === 'job.metrics_reported' || jobStatusAfter(event) !== undefined
      ? [event.correlationId]
      : [];
  },
  evolve(doc, event, key) {
    if (event.type === 'run.submitted') {
      const jobs = new Map(event.data.jobs.map((j) => [j.id, j]));
      return {
        project: event.project,
        runId: key,
        sweeps: (event.data.sweeps ?? []).map((s) => ({
          step: s.step,
          objective: s.objective,
          earlyStopping: s.earlyStopping,
          maxParallel: s.maxParallel,
          completed: false,
          best: null,
          trials: s.trials.map((id, k) => {
            const job = jobs.get(id);
            return {
              jobId: id,
              name: job?.name ?? id,
              index: job?.trial?.index ?? k + 1,
              params: { ...(job?.trial?.params ?? {}) },
              status: 'pending',
              objective: null,
              step: null,
              lastMetrics: {},
              stoppedReason: null,
              earlyStopped: null,
            };
          }),
        })),
      };
    }
    if (doc === undefined) return undefined;
    if (event.type === 'run.sweep_completed') {
      return {
        ...doc,
        sweeps: doc.sweeps.map((s) =>
          s.step === event.data.step ? { ...s, completed: true, best: event.data.best } : s,
        ),
      };
    }
    const at = doc.sweeps.findIndex((s) => s.trials.some((t) => t.jobId === event.aggregateId));
    if (at < 0) return doc;
    const sweeps = doc.sweeps.map((sweep, k) => {
      if (k !== at) return sweep;
      const trials = sweep.trials.map((t) =>
        t.jobId === event.aggregateId ? trialAfter(t, event, sweep) : t,
      );
      const next = { ...sweep, trials };
      return sweep.completed ? next : { ...next, best: leader(next) };
    });
    return { ...doc, sweeps };
  },
};

function trialAfter(trial: TrialView, event: StoredEvent, sweep: SweepView): TrialView {
  if (event.type === 'job.metrics_reported') {
    const lastMetrics = { ...trial.lastMetrics };
    let { objective, step } = trial;
    for (const point of event.data.points) {
      lastMetrics[point.name] = { value: point.value, step: point.step };
      if (point.name === sweep.objective?.metric) {
        objective = point.value;
        step = point.step ?? (step ?? 0) + 1;
      }
    }
    return { ...trial, lastMetrics, objective, step };
  }
  const status = jobStatusAfter(event);
  // Late or repeated events change nothing once the trial has ended.
  if (status === undefined || TERMINAL_JOB_STATUSES.has(trial.status)) return trial;
  const next = { ...trial, status };
  switch (event.type) {
    case 'job.cancelled':
      return {
        ...next,
        stoppedReason: event.data.reason,
        earlyStopped: event.data.earlyStopped ?? null,
      };
    case 'job.failed':
      return { ...next, stoppedReason: `${event.data.reason}: ${event.data.message}` };
    case 'job.skipped':
      return { ...next, stoppedReason: event.data.reason };
    default:
      return next;
  }
}

/**
 * The leader of a sweep still running: the best last objective among the trials that succeeded
 * or still run (not those stopped, failed or skipped), the earlier one on a tie.
 */
function leader(sweep: SweepView): BestTrial | null {
  const objective = sweep.objective;
  if (objective === null) return null;
  let best: BestTrial | null = null;
  for (const t of sweep.trials) {
    if (t.objective === null) continue;
    if (t.status === 'failed' || t.status === 'cancelled' || t.status === 'skipped') continue;
    if (
      best === null ||
      (objective.mode === 'min' ? t.objective < best.value : t.objective > best.value)
    ) {
      best = { jobId: t.jobId, name: t.name, params: t.params, value: t.objective };
    }
  }
  return best;
}
