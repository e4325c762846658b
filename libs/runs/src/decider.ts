import type { DomainEvent, NewEvent } from '@acai/contracts';

export type { NewEvent };

/**
 * A decider in the emmett sense: `decide` turns a command and the current state into new events,
 * `evolve` folds an event into the state. Both are pure: no I/O, no clock (time comes in the command).
 */
export interface Decider<State, Command, Event = DomainEvent> {
  readonly initialState: () => State;
  readonly decide: (command: Command, state: State) => NewEvent[];
  readonly evolve: (state: State, event: Event) => State;
}

export function fold<S, E>(
  decider: { initialState: () => S; evolve: (s: S, e: E) => S },
  events: readonly E[],
): S {
  return events.reduce(decider.evolve, decider.initialState());
}
