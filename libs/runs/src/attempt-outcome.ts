import type { EventData, JobFailureReason } from '@acai/contracts';

/** How the process of an attempt ended. */
export interface ProcessExit {
  readonly code: number | null;
  readonly signal: string | null;
}

/** Everything known of an attempt once its process is over (or never started). */
export interface AttemptFacts {
  /** The attempt these facts are of. */
  readonly attempt: number;
  /** The process did not start: why (`command_not_found`, `permission_denied`, `spawn_error`, `staging_failed`). */
  readonly notStarted?: { readonly reason: JobFailureReason; readonly message: string };
  /** How it ended, when it ran. */
  readonly exit?: ProcessExit;
  /** It was stopped at its wall-clock limit. */
  readonly timedOut: boolean;
  /** The kernel killed it for using more memory than its limit. */
  readonly outOfMemory: boolean;
  readonly timeoutSeconds: number | null;
  readonly memoryMb: number;
  readonly durationMs: number;
  /** The last lines it printed, for the failure's message. */
  readonly lastLines: readonly string[];
}

/** What an attempt's end means for the job: success (its outputs are to be saved), or why not. */
export type AttemptOutcome =
  { readonly ok: true } | { readonly ok: false; readonly failure: EventData<'job.failed'> };

/**
 * Classifies how an attempt ended, the same for every executor (a process on a node, a simulated
 * one): not started, stopped at its time limit, killed for memory, killed by a signal, a non-zero
 * exit, or success. Pure; each failure says what happened and what to do.
 */
export function outcomeOf(facts: AttemptFacts): AttemptOutcome {
  const fail = (reason: JobFailureReason, message: string): AttemptOutcome => ({
    ok: false,
    failure: {
      reason,
      message,
      exitCode: facts.exit?.code ?? null,
      signal: facts.exit?.signal ?? null,
      durationMs: facts.durationMs,
      lastLines: [...facts.lastLines],
      attempt: facts.attempt,
    },
  });
  if (facts.notStarted !== undefined) {
    return fail(facts.notStarted.reason, facts.notStarted.message);
  }
  const exit = facts.exit;
  if (exit === undefined) {
    return fail('spawn_error', 'the process ended without an exit status; see the executor log');
  }
  if (facts.timedOut) {
    return fail(
      'timed_out',
      `the job ran longer than its limit of ${facts.timeoutSeconds ?? 0} s and was stopped; raise timeoutSeconds if it needs longer`,
    );
  }
  if (exit.code !== 0 && facts.outOfMemory) {
    return fail(
      'out_of_memory',
      `the job used more than its ${facts.memoryMb} MiB of memory and was stopped; ask for more with resources.memoryMb`,
    );
  }
  if (exit.code !== 0) {
    return exit.signal !== null
      ? fail('killed', `the process was killed by ${exit.signal}`)
      : fail(
          'nonzero_exit',
          `the process exited with code ${exit.code ?? 'unknown'}; see the last lines of its output`,
        );
  }
  return { ok: true };
}
