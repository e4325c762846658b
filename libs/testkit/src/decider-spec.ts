import { isDeepStrictEqual } from 'node:util';
import type { Decider, NewEvent, Problem } from '@acai/contracts';

/**
 * Given/when/then for deciders: `given(events).when(command).then(events)` or `.thenThrows(problem)`.
 * Returns what was decided, so a test can also inspect it.
 */
export function deciderSpec<S, C>(decider: Decider<S, C>) {
  return {
    given(events: NewEvent[]) {
      const state = events.reduce(decider.evolve, decider.initialState());
      return {
        state,
        when(command: C) {
          const run = () => decider.decide(command, state);
          return {
            then(expected: NewEvent[]): NewEvent[] {
              const actual = run();
              if (!isDeepStrictEqual(actual, expected)) {
                throw new Error(
                  `decided\n  ${JSON.stringify(actual)}\nexpected\n  ${JSON.stringify(expected)}`,
                );
              }
              return actual;
            },
            /**
             * The command is refused with this problem (matched by reason), or with an error of
             * this reason or category when given as a string.
             */
            thenThrows(expected: Pick<Problem, 'reason'> | string): void {
              const wanted = typeof expected === 'string' ? expected : expected.reason;
              try {
                run();
              } catch (error) {
                const { code, reason } = error as { code?: unknown; reason?: unknown };
                const matches =
                  typeof expected === 'string'
                    ? code === wanted || reason === wanted
                    : reason === wanted;
                if (!matches) {
                  throw new Error(`threw ${String(reason ?? code)}, expected ${wanted}`, {
                    cause: error,
                  });
                }
                return;
              }
              throw new Error(`decided without error, expected ${wanted}`);
            },
          };
        },
      };
    },
  };
}
