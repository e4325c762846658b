import { assertUnreachable, type Decider, type EventData, type NewEvent } from '@acai/contracts';

/**
 * Where a job profile stands with the auto-provisioner: nothing known yet, a profiling run under
 * way (with the jobs waiting for it), or profiled (never again: later jobs use what it taught,
 * and earlier ones have been placed).
 */
export interface ProfileState {
  readonly status: 'unprofiled' | 'profiling' | 'profiled';
  /** The profiling run, once one was started. */
  readonly runId: string | null;
  /** Jobs waiting, queued, for the profiling run to end; placed once it has. */
  readonly waiting: readonly string[];
  readonly outcome: EventData<'profile.profiled'>['outcome'] | null;
}

export type ProfileCommand =
  /**
   * A job of the profile needs profiling before it can be placed: the first starts a profiling
   * run (`runId` is the id the run will be submitted with), every one waits for it.
   */
  | {
      readonly kind: 'await_profiling';
      readonly jobId: string;
      readonly runId: string;
      readonly configurations: readonly string[];
    }
  /** A run ended; if it is the profile's profiling run, the profile is profiled. */
  | {
      readonly kind: 'finish';
      readonly runId: string;
      readonly outcome: EventData<'profile.profiled'>['outcome'];
    };

/**
 * The placement of a job that needs profiling, as events (waiting for profile → profiled →
 * placed), so the provisioner rebuilds it from the log like every other service. Pure.
 */
export const profileDecider: Decider<ProfileState, ProfileCommand> = {
  initialState: () => ({ status: 'unprofiled', runId: null, waiting: [], outcome: null }),

  decide(command, state): NewEvent[] {
    switch (command.kind) {
      case 'await_profiling': {
        const waits: NewEvent = { type: 'profile.job_waiting', data: { jobId: command.jobId } };
        switch (state.status) {
          case 'unprofiled':
            return [
              {
                type: 'profile.profiling_started',
                data: {
                  runId: command.runId,
                  jobId: command.jobId,
                  configurations: [...command.configurations],
                },
              },
              waits,
            ];
          case 'profiling':
            return state.waiting.includes(command.jobId) ? [] : [waits];
          case 'profiled':
            // Too late to wait: the caller places the job with what the profile taught.
            return [];
          default:
            return assertUnreachable(state.status, 'profile status');
        }
      }
      case 'finish':
        return state.status === 'profiling' && state.runId === command.runId
          ? [{ type: 'profile.profiled', data: { runId: command.runId, outcome: command.outcome } }]
          : [];
      default:
        return assertUnreachable(command, 'profile command');
    }
  },

  evolve(state, event): ProfileState {
    switch (event.type) {
      case 'profile.profiling_started':
        return { ...state, status: 'profiling', runId: event.data.runId };
      case 'profile.job_waiting':
        return { ...state, waiting: [...state.waiting, event.data.jobId] };
      case 'profile.profiled':
        return { ...state, status: 'profiled', outcome: event.data.outcome };
      default:
        return state;
    }
  },
};
