import {
  AcaiError,
  RunProblems,
  type EventData,
  type JobOutcome,
  type PlannedJob,
  type RunOrigin,
  assertUnreachable,
  type Decider,
  type NewEvent,
} from '@acai/contracts';

export type RunPhase = 'none' | 'active' | 'cancelling' | 'succeeded' | 'failed' | 'cancelled';

export interface RunState {
  readonly phase: RunPhase;
  readonly name: string | null;
  readonly jobs: readonly PlannedJob[];
  /** Final outcome per job id, once settled. */
  readonly outcomes: Readonly<Record<string, JobOutcome>>;
  /** Why the run is being cancelled, once it is. */
  readonly cancelReason: string | null;
  /** Why acai submitted the run itself (a profiling run); null for users' runs. */
  readonly origin: RunOrigin | null;
}

export type RunCommand =
  | { kind: 'submit'; data: EventData<'run.submitted'> }
  | { kind: 'settle_job'; jobId: string; outcome: JobOutcome }
  /** Ends the run if every job is settled and it has not ended yet (see {@link conclusion}). */
  | { kind: 'conclude' }
  | { kind: 'cancel'; reason: string };

export const runDecider: Decider<RunState, RunCommand, NewEvent> & {
  creationEvents: ReadonlySet<string>;
} = {
  creationEvents: new Set(['run.submitted']),
  initialState: () => ({
    phase: 'none',
    name: null,
    jobs: [],
    outcomes: {},
    cancelReason: null,
    origin: null,
  }),

  decide(command, state) {
    switch (command.kind) {
      case 'submit':
        if (state.phase !== 'none')
          throw new AcaiError(RunProblems.RUN_EXISTS, 'A run with this id exists already');
        return [{ type: 'run.submitted', data: command.data }];
      case 'settle_job': {
        const job = state.jobs.find((j) => j.id === command.jobId);
        if (job === undefined) return [];
        if (state.phase !== 'active' && state.phase !== 'cancelling') return [];
        // Settled already: the job's end is being handled again because the process that settled
        // it died before the run's end was appended after it. The end is derived again, so a run
        // whose jobs have all ended always ends.
        if (state.outcomes[command.jobId] !== undefined) return conclusion(state);
        const settled: NewEvent = {
          type: 'run.job_settled',
          data: { jobId: job.id, name: job.name, outcome: command.outcome },
        };
        const after = runDecider.evolve(state, settled);
        return [settled, ...conclusion(after)];
      }
      case 'conclude':
        return state.phase === 'active' || state.phase === 'cancelling' ? conclusion(state) : [];
      case 'cancel':
        if (state.phase === 'none')
          throw new AcaiError(RunProblems.RUN_NOT_FOUND, 'No such run in this project');
        if (state.phase === 'cancelling') return [];
        if (state.phase !== 'active') {
          throw new AcaiError(
            RunProblems.RUN_ALREADY_ENDED,
            `The run has already ended (${state.phase}); there is nothing to cancel`,
          );
        }
        return [{ type: 'run.cancel_requested', data: { reason: command.reason } }];
      default:
        return assertUnreachable(command, 'run command');
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'run.submitted':
        return {
          ...state,
          phase: 'active',
          name: event.data.name,
          jobs: event.data.jobs,
          // Runs recorded before origins existed were all users'.
          origin: event.data.origin ?? null,
        };
      case 'run.job_settled':
        return {
          ...state,
          outcomes: { ...state.outcomes, [event.data.jobId]: event.data.outcome },
        };
      case 'run.cancel_requested':
        return { ...state, phase: 'cancelling', cancelReason: event.data.reason };
      case 'run.succeeded':
        return { ...state, phase: 'succeeded' };
      case 'run.failed':
        return { ...state, phase: 'failed' };
      case 'run.cancelled':
        return { ...state, phase: 'cancelled' };
      default:
        return state;
    }
  },
};

/**
 * Once every job is settled the run ends: cancelled, failed, or succeeded, in that order of
 * precedence. Only for a run that has not ended (active or cancelling).
 */
function conclusion(state: RunState): NewEvent[] {
  if (state.jobs.some((j) => state.outcomes[j.id] === undefined)) return [];
  if (state.phase === 'cancelling')
    return [
      { type: 'run.cancelled', data: { reason: state.cancelReason ?? 'cancelled on request' } },
    ];
  const failed = state.jobs.filter((j) => state.outcomes[j.id] === 'failed').map((j) => j.id);
  if (failed.length > 0 || state.jobs.some((j) => state.outcomes[j.id] === 'cancelled')) {
    const names = state.jobs.filter((j) => failed.includes(j.id)).map((j) => j.name);
    return [
      {
        type: 'run.failed',
        data: {
          reason: names.length > 0 ? `step(s) failed: ${names.join(', ')}` : 'steps were cancelled',
          failedJobs: failed,
        },
      },
    ];
  }
  return [{ type: 'run.succeeded', data: {} }];
}

/** Jobs whose needs have all succeeded and that have no outcome yet: the scheduler queues them. */
export function readyJobs(state: RunState): PlannedJob[] {
  if (state.phase !== 'active') return [];
  const byName = new Map(state.jobs.map((j) => [j.name, j]));
  return state.jobs.filter(
    (j) =>
      state.outcomes[j.id] === undefined &&
      j.needs.every((n) => state.outcomes[byName.get(n)?.id ?? ''] === 'succeeded'),
  );
}

/**
 * Jobs that can never run: a job they need (directly or not) failed or was cancelled, or the run
 * is being cancelled. The scheduler cancels them.
 */
export function doomedJobs(state: RunState): PlannedJob[] {
  const unsettled = state.jobs.filter((j) => state.outcomes[j.id] === undefined);
  if (state.phase === 'cancelling') return unsettled;
  if (state.phase !== 'active') return [];
  const byName = new Map(state.jobs.map((j) => [j.name, j]));
  return unsettled.filter((j) =>
    j.needs.some((n) => {
      const outcome = state.outcomes[byName.get(n)?.id ?? ''];
      return outcome === 'failed' || outcome === 'cancelled';
    }),
  );
}
