import { defineProblems, ErrorCode } from '../errors.js';

/** Problems of operations across projects (the platform admin's): dead letters. */
export const OperationsProblems = defineProblems('operations', {
  DEAD_LETTER_NOT_FOUND: {
    code: ErrorCode.NotFound,
    title: 'No service that answered has a dead letter with this id',
  },
  DEAD_LETTER_NOT_REDRIVABLE: {
    code: ErrorCode.Conflict,
    retryable: true,
    title: 'The dead letter is being redriven already, or no running consumer can take it back',
  },
});
