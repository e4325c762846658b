import type { DomainEvent } from './events/catalogue.js';
import type { StreamPosition } from './events/envelope.js';

/** An event as read back from the log: decoded, validated, and where it sits. */
export type StoredEvent = DomainEvent & { readonly position: StreamPosition };

/**
 * A read model as a pure fold. The projection runner (libs/eventing) loads the documents an event
 * touches, applies `evolve`, and stores the result with the stream sequence in one transaction.
 */
export interface Projection<Doc> {
  readonly name: string;
  /** Which documents the event changes (none: the event is ignored). */
  readonly keys: (event: StoredEvent) => readonly string[];
  /** The new document for `key`; `undefined` deletes it. Must be pure and deterministic. */
  readonly evolve: (doc: Doc | undefined, event: StoredEvent, key: string) => Doc | undefined;
}

export type StoredEventOf<T extends StoredEvent['type']> = Extract<StoredEvent, { type: T }>;
