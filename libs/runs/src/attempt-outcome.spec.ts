import { describe, expect, it } from '@jest/globals';
import { outcomeOf, type AttemptFacts } from './attempt-outcome.js';

const facts = (more: Partial<AttemptFacts>): AttemptFacts => ({
  attempt: 2,
  timedOut: false,
  outOfMemory: false,
  timeoutSeconds: 60,
  memoryMb: 512,
  durationMs: 1500,
  lastLines: ['last line'],
  ...more,
});

describe('outcomeOf', () => {
  it('calls an exit with code 0 a success', () => {
    expect(outcomeOf(facts({ exit: { code: 0, signal: null } }))).toEqual({ ok: true });
  });

  it.each([
    [
      'not started',
      { notStarted: { reason: 'command_not_found' as const, message: 'no such program' } },
      'command_not_found',
      'no such program',
    ],
    [
      'stopped at its limit',
      { timedOut: true, exit: { code: null, signal: 'SIGTERM' } },
      'timed_out',
      'raise timeoutSeconds',
    ],
    [
      'killed for memory',
      { outOfMemory: true, exit: { code: null, signal: 'SIGKILL' } },
      'out_of_memory',
      'ask for more with resources.memoryMb',
    ],
    [
      'killed by a signal',
      { exit: { code: null, signal: 'SIGTERM' } },
      'killed',
      'killed by SIGTERM',
    ],
    ['a non-zero exit', { exit: { code: 3, signal: null } }, 'nonzero_exit', 'exited with code 3'],
  ])('classifies %s, saying what to do, for its attempt', (_what, more, reason, says) => {
    const outcome = outcomeOf(facts(more));
    expect(outcome).toMatchObject({
      ok: false,
      failure: {
        reason,
        message: expect.stringContaining(says),
        attempt: 2,
        lastLines: ['last line'],
      },
    });
  });

  it('prefers the time limit to memory, and memory to the signal that carried it out', () => {
    const both = outcomeOf(
      facts({ timedOut: true, outOfMemory: true, exit: { code: null, signal: 'SIGKILL' } }),
    );
    expect(both).toMatchObject({ failure: { reason: 'timed_out' } });
    // A job that exits 0 was not killed for memory, whatever the counter says.
    expect(outcomeOf(facts({ outOfMemory: true, exit: { code: 0, signal: null } }))).toEqual({
      ok: true,
    });
  });
});
