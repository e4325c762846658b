import { isDeepStrictEqual } from 'node:util';
import type { NewEvent } from '@acai/contracts';

/**
 * Given/when/then for deciders: `given(events).when(command).then(events)` or `.thenThrows(code)`.
 * Returns what was decided, so a test can also inspect it.
 */
export function deciderSpec<S, C>(decider: {
  initialState: () => S;
  evolve: (s: S, e: NewEvent) => S;
  decide: (c: C, s: S) => NewEvent[];
}) {
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
            thenThrows(code: string): void {
              try {
                run();
              } catch (error) {
                const actual = (error as { code?: unknown }).code;
                if (actual !== code)
                  throw new Error(`threw ${String(actual)}, expected ${code}`, { cause: error });
                return;
              }
              throw new Error(`decided without error, expected ${code}`);
            },
          };
        },
      };
    },
  };
}
