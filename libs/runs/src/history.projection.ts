import {
  TERMINAL_JOB_STATUSES,
  type HistoryEntry,
  type JobStatus,
  type JobView,
  type Projection,
  type RunStatus,
  type RunView,
  type StoredEvent,
} from '@acai/contracts';

/** Job status after an event of that job; events that do not move the status map to undefined. */
export function jobStatusAfter(event: StoredEvent): JobStatus | undefined {
  switch (event.type) {
    case 'job.queued':
      return 'queued';
    case 'job.provisioned':
      return 'provisioned';
    case 'job.dispatched':
      return 'dispatched';
    case 'job.started':
      return 'running';
    case 'job.succeeded':
    case 'job.reused':
      return 'succeeded';
    case 'job.failed':
      return 'failed';
    case 'job.cancelled':
      return 'cancelled';
    case 'job.retry_scheduled':
      return 'retrying';
    case 'job.requeued':
    case 'job.rescaled':
      return 'queued';
    case 'job.skipped':
      return 'skipped';
    default:
      return undefined;
  }
}

const TERMINAL_JOB = TERMINAL_JOB_STATUSES;

/** `runs`: one document per run, with its status and its jobs' statuses. Job events find their run by correlation id. */
export const runsProjection: Projection<RunView> = {
  name: 'runs',
  keys(event) {
    if (event.aggregate === 'run') return [event.aggregateId];
    if (event.aggregate === 'job' && event.correlationId !== null) return [event.correlationId];
    return [];
  },
  evolve(doc, event, key) {
    if (event.type === 'run.submitted') {
      return {
        id: key,
        project: event.project,
        name: event.data.name,
        status: 'queued',
        createdAt: event.occurredAt,
        updatedAt: event.occurredAt,
        jobs: event.data.jobs.map((j) => ({ id: j.id, name: j.name, status: 'pending' })),
        ...(event.data.priority === undefined || event.data.priority === 0
          ? {}
          : { priority: event.data.priority }),
        ...(event.data.maxParallel === undefined ? {} : { maxParallel: event.data.maxParallel }),
        ...(event.data.limits == null
          ? {}
          : {
              limits: {
                deadline: event.data.limits.deadline,
                budget: event.data.limits.budget,
                spent: 0,
                predictedFinish: event.data.limits.predictedFinish,
                predictedCost: event.data.limits.predictedCost,
                budgetExhausted: null,
              },
            }),
        ...(event.data.sweeps === undefined || event.data.sweeps.length === 0
          ? {}
          : {
              sweeps: event.data.sweeps.map((s) => ({
                step: s.step,
                trials: s.trials.length,
                objective: s.objective,
                completed: false,
                succeeded: 0,
                earlyStopped: 0,
                best: null,
              })),
            }),
      };
    }
    if (doc === undefined) return undefined;
    const touched = { ...doc, updatedAt: event.occurredAt };
    const limits = doc.limits;
    switch (event.type) {
      case 'run.step_budgeted':
        return limits === undefined
          ? doc
          : {
              ...touched,
              limits: {
                ...limits,
                predictedFinish: event.data.runPredictedFinish,
                predictedCost: event.data.runPredictedCost,
              },
            };
      case 'run.job_cost_measured':
        return limits === undefined
          ? doc
          : { ...touched, limits: { ...limits, spent: limits.spent + event.data.cost } };
      case 'run.budget_exhausted':
        return limits === undefined
          ? doc
          : { ...touched, limits: { ...limits, budgetExhausted: event.data.reason } };
      case 'run.sweep_completed': {
        const { step, succeeded, earlyStopped, best } = event.data;
        return {
          ...touched,
          sweeps: (doc.sweeps ?? []).map((s) =>
            s.step === step ? { ...s, completed: true, succeeded, earlyStopped, best } : s,
          ),
        };
      }
      case 'run.succeeded':
        return { ...touched, status: 'succeeded' };
      case 'run.failed':
        return { ...touched, status: 'failed' };
      case 'run.cancelled':
        return { ...touched, status: 'cancelled' };
      default:
        break;
    }
    const status = event.aggregate === 'job' ? jobStatusAfter(event) : undefined;
    const job = doc.jobs.find((j) => j.id === event.aggregateId);
    // Late or repeated job events change nothing once the job has ended.
    if (
      status === undefined ||
      job === undefined ||
      TERMINAL_JOB.has(job.status) ||
      job.status === status
    )
      return doc;
    if (event.type === 'job.reused') {
      const { savedSeconds, savedCost } = event.data.from;
      const reuse = doc.reuse ?? { jobs: 0, savedSeconds: 0, savedCost: 0 };
      return {
        ...touched,
        jobs: doc.jobs.map((j) =>
          j === job ? { ...j, status, reusedFrom: event.data.from.jobId } : j,
        ),
        reuse: {
          jobs: reuse.jobs + 1,
          savedSeconds: reuse.savedSeconds + (savedSeconds ?? 0),
          savedCost: reuse.savedCost + (savedCost ?? 0),
        },
      };
    }
    // A job its run's reuse plan left out says why it is skipped: it counts as success.
    const notNeeded =
      event.type === 'job.skipped' && event.data.notNeeded !== undefined
        ? { notNeeded: event.data.reason }
        : {};
    const jobs = doc.jobs.map((j) => (j === job ? { ...j, status, ...notNeeded } : j));
    // A run is running once a job of it has actually run (a cancelled or skipped job never did).
    const runStatus: RunStatus =
      doc.status === 'queued' &&
      jobs.some(
        (j) =>
          j.status === 'running' ||
          j.status === 'retrying' ||
          j.status === 'succeeded' ||
          j.status === 'failed',
      )
        ? 'running'
        : doc.status;
    return { ...touched, jobs, status: runStatus };
  },
};

/** `jobs`: one document per job, created when its run is submitted. */
export const jobsProjection: Projection<JobView> = {
  name: 'jobs',
  keys(event) {
    if (event.type === 'run.submitted') return event.data.jobs.map((j) => j.id);
    if (event.aggregate === 'job') return [event.aggregateId];
    return [];
  },
  evolve(doc, event, key) {
    if (event.type === 'run.submitted') {
      const job = event.data.jobs.find((j) => j.id === key)!;
      return {
        id: key,
        project: event.project,
        runId: event.aggregateId,
        name: job.name,
        status: 'pending',
        command: job.command,
        attempt: 0,
        pool: null,
        exitCode: null,
        reason: null,
        message: null,
        checkpoint: null,
        createdAt: event.occurredAt,
        updatedAt: event.occurredAt,
      };
    }
    if (doc === undefined) return undefined;
    if (event.type === 'job.checkpointed') {
      const { fileset, version, step } = event.data;
      return { ...doc, checkpoint: { fileset, version, step }, updatedAt: event.occurredAt };
    }
    const status = jobStatusAfter(event);
    if (status === undefined || TERMINAL_JOB.has(doc.status)) return doc;
    const next: JobView = { ...doc, status, updatedAt: event.occurredAt };
    switch (event.type) {
      case 'job.dispatched':
        return { ...next, pool: event.data.pool, attempt: event.data.attempt };
      case 'job.started':
        return { ...next, attempt: event.data.attempt };
      case 'job.succeeded':
        return { ...next, exitCode: 0 };
      case 'job.reused':
        return {
          ...next,
          reason: 'reused',
          message: event.data.reason,
          reusedFrom: event.data.from.jobId,
        };
      case 'job.failed':
        return {
          ...next,
          exitCode: event.data.exitCode,
          reason: event.data.reason,
          message: event.data.message,
        };
      case 'job.cancelled':
        return {
          ...next,
          reason: event.data.earlyStopped === undefined ? 'cancelled' : 'early_stopped',
          message: event.data.reason,
        };
      case 'job.retry_scheduled':
        // The failure being retried, until the next attempt settles the job.
        return {
          ...next,
          exitCode: event.data.exitCode,
          reason: event.data.reason,
          message: `${event.data.message} (retry ${event.data.retry} in ${Math.round(event.data.delayMs / 1000)} s)`,
        };
      case 'job.requeued':
        // The retried failure is behind it: the next attempt's end says how the job ended.
        return { ...next, exitCode: null, reason: null, message: null };
      case 'job.rescaled':
        return {
          ...next,
          reason: 'rescaled',
          message: `moved to ${event.data.to.name}${event.data.checkpoint === null ? '' : `, resuming from ${event.data.checkpoint.fileset}@${event.data.checkpoint.version}`}`,
        };
      case 'job.skipped':
        return {
          ...next,
          reason: event.data.notNeeded === undefined ? 'skipped' : 'not_needed',
          message: event.data.reason,
        };
      default:
        return next;
    }
  },
};

export interface JobHistoryDoc {
  readonly project: string;
  readonly entries: HistoryEntry[];
}

/** `job-history`: every event of a job, in log order, as the API shows it. */
export const jobHistoryProjection: Projection<JobHistoryDoc> = {
  name: 'job-history',
  keys(event) {
    return event.aggregate === 'job' ? [event.aggregateId] : [];
  },
  evolve(doc, event) {
    const entry: HistoryEntry = {
      seq: event.position.seq,
      type: event.type,
      version: event.version,
      time: event.occurredAt,
      data: event.data,
    };
    return { project: event.project, entries: [...(doc?.entries ?? []), entry] };
  },
};
