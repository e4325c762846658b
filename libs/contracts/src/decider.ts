import type { NewEvent } from './events/catalogue.js';

/**
 * A decider, the one shape of every aggregate's domain logic (runs, jobs, file sets, profiles):
 * `decide` turns a command and the current state into new events, `evolve` folds an event into
 * the state. Both are pure: no I/O, no clock (time comes in the command). The event store's
 * repositories need only `initialState`, `evolve` and `creationEvents` of it.
 */
export interface Decider<State, Command, Event = NewEvent> {
  readonly initialState: () => State;
  readonly decide: (command: Command, state: State) => NewEvent[];
  readonly evolve: (state: State, event: Event) => State;
  /**
   * Event types that can only be the first event of an aggregate (e.g. `run.submitted`). Seeing
   * one on a consumer is enough to know the whole state, with no read.
   */
  readonly creationEvents?: ReadonlySet<string>;
}

/** The state after these events, from the initial state. */
export function fold<S, E>(
  decider: Pick<Decider<S, unknown, E>, 'initialState' | 'evolve'>,
  events: readonly E[],
): S {
  return events.reduce(decider.evolve, decider.initialState());
}
