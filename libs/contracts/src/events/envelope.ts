import { z } from 'zod';

/** The envelope every event travels in. `data` is validated against the catalogue entry for `type@version`. */
export const EventEnvelopeSchema = z.object({
  id: z.string().min(1),
  type: z.string().regex(/^[a-z_]+\.[a-z_]+$/),
  version: z.number().int().positive(),
  project: z.string().min(1),
  aggregate: z.string().min(1),
  aggregateId: z.string().min(1),
  occurredAt: z.string().datetime({ offset: true }),
  causationId: z.string().nullable(),
  correlationId: z.string().nullable(),
  data: z.unknown(),
});

export type RawEventEnvelope = z.infer<typeof EventEnvelopeSchema>;

/** Where an event sits in the log, known once it is stored. */
export interface StreamPosition {
  readonly stream: string;
  readonly subject: string;
  /** JetStream stream sequence: the global position of the event. */
  readonly seq: number;
}

/** The services that write events. */
export type EventWriter = 'scheduler' | 'provisioner' | 'executor' | 'catalog' | 'provenance';

export interface EventDefinition<T extends string, V extends number, S extends z.ZodType> {
  readonly type: T;
  readonly version: V;
  readonly aggregate: string;
  readonly schema: S;
  readonly description: string;
  /**
   * The services that may append it. The event stores refuse an append by any other, so an
   * aggregate's writers are known from here (see `mayWrite`).
   */
  readonly writers: readonly EventWriter[];
}

export function defineEvent<T extends string, V extends number, S extends z.ZodType>(
  def: EventDefinition<T, V, S>,
): EventDefinition<T, V, S> {
  return def;
}
