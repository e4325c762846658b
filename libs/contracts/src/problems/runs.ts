import { defineProblems, ErrorCode } from '../errors.js';

/** Problems of runs and their jobs (the scheduler, the executor, provenance). */
export const RunProblems = defineProblems('runs', {
  RUN_SPEC_INVALID: { code: ErrorCode.ValidationFailed, title: 'The run spec is invalid' },
  RUN_EXISTS: { code: ErrorCode.Conflict, title: 'A run with this id exists already' },
  RUN_NOT_FOUND: { code: ErrorCode.NotFound, title: 'No such run in this project' },
  RUN_ALREADY_ENDED: {
    code: ErrorCode.Conflict,
    title: 'The run has already ended; there is nothing to change',
  },
  JOB_NOT_FOUND: { code: ErrorCode.NotFound, title: 'No such job in this project' },
  JOB_CANCELLED_BEFORE_START: {
    code: ErrorCode.Conflict,
    title: 'The job was cancelled before it started',
  },
  JOB_CANNOT_START: { code: ErrorCode.Conflict, title: 'The job is not in a state to start' },
  RUN_DEADLINE_PASSED: {
    code: ErrorCode.Unprocessable,
    title: 'The run’s deadline has already passed',
  },
  RUN_BUDGET_BELOW_CHEAPEST_PLAN: {
    code: ErrorCode.Unprocessable,
    title: 'The run’s budget is below the cheapest possible plan for it',
  },
  PROJECTION_NOT_FOUND: { code: ErrorCode.NotFound, title: 'No read model of that name' },
  REPLAY_RUNNING: {
    code: ErrorCode.Conflict,
    title:
      'A replay of this read model is running; its progress is on GET /api/v1/projections/{name}',
  },
  PROVENANCE_BEHIND: {
    code: ErrorCode.Unavailable,
    retryable: true,
    title: 'Provenance has not caught up with the event log yet',
  },
});
