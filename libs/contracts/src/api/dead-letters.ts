import { z } from 'zod';
import { BUS_SERVICES } from '../bus-permissions.js';

/**
 * Dead letters: events a consumer gave up on (poison), kept in the schema of the service whose
 * consumer it was, until an operator redrives them. The gateway asks every service over the bus
 * (`<prefix>.ctl.dead_letters.list` and `.redrive`, answered by one replica of each) and serves
 * the answers to the platform admin (docs/operations.md).
 */

export const DeadLetterServiceSchema = z.enum(BUS_SERVICES);

/** A consumer's name: a durable (`scheduler-run`) or a projection (`projection:runs`). */
const ConsumerNameSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\w:+.-]+$/, 'a consumer name (`scheduler-run`, `projection:runs`)');
const ReasonSchema = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[a-z0-9_]+$/, 'a reason in lower case (`max_deliveries`, `undecodable`)');

/** Where a page starts: after this letter, in (createdAt, id) order. */
export const DeadLetterCursorSchema = z.object({
  createdAt: z.iso.datetime({ precision: 6 }),
  id: z.uuid(),
});
export type DeadLetterCursor = z.infer<typeof DeadLetterCursorSchema>;

export const DeadLetterFilterSchema = z.object({
  service: DeadLetterServiceSchema.optional().describe('Only this service’s letters'),
  consumer: ConsumerNameSchema.optional().describe(
    'Only this consumer’s (`scheduler-run`, `projection:runs`)',
  ),
  reason: ReasonSchema.optional().describe('Only letters of this reason (`max_deliveries`)'),
});

/** A letter as listed: where it came from and why it is here; its payload only when asked for. */
export const DeadLetterViewSchema = z.object({
  id: z.uuid(),
  service: DeadLetterServiceSchema.describe('Whose schema keeps it'),
  consumer: z.string().describe('The consumer that gave up: a durable, or `projection:<name>`'),
  stream: z.string(),
  seq: z.number().int().describe('Its position in the stream'),
  subject: z.string().describe('`acai.evt.<project>.<aggregate>.<id>`'),
  type: z.string().nullable().describe('The event’s type, when it could be told'),
  reason: z
    .string()
    .describe(
      '`max_deliveries` (failed every attempt), `max_redeliveries` (the service died handling it, again and again), `undecodable`, `unknown_version`, `invalid_data`, `handler_failed`, or the reason of a problem that is not retryable',
    ),
  error: z.string().describe('What the last failure said'),
  createdAt: z.string().describe('ISO 8601, to the microsecond'),
  redrives: z.number().int().describe('Times it was redriven and failed again'),
  redrivingSince: z
    .string()
    .nullable()
    .describe('Since when it is being redriven (null: it is not)'),
  payloadBytes: z.number().int(),
  payload: z
    .base64()
    .optional()
    .describe('The message as stored, in base64: only with `payload=true`, and if it fits'),
});
export type DeadLetterView = z.infer<typeof DeadLetterViewSchema>;

/** Asked of every service on `<prefix>.ctl.dead_letters.list`. */
export const ListDeadLettersControlSchema = z.object({
  /** Only this service answers; all of them when absent. */
  service: DeadLetterServiceSchema.optional(),
  consumer: ConsumerNameSchema.optional(),
  reason: ReasonSchema.optional(),
  after: DeadLetterCursorSchema.optional(),
  limit: z.number().int().min(1).max(500),
  payload: z.boolean(),
});
export type ListDeadLettersControl = z.infer<typeof ListDeadLettersControlSchema>;

/** One service's answer: a page of its letters. */
export const DeadLetterPageReplySchema = z.object({
  service: DeadLetterServiceSchema,
  items: z.array(DeadLetterViewSchema),
  /** Its letters matching the filter, on every page. */
  total: z.number().int(),
  /** Whether it has letters after the last one. */
  more: z.boolean(),
});
export type DeadLetterPageReply = z.infer<typeof DeadLetterPageReplySchema>;

/** Asked of every service on `<prefix>.ctl.dead_letters.redrive`. */
export const RedriveDeadLettersControlSchema = z.object({
  /** Only this service redrives; all of them when absent. */
  service: DeadLetterServiceSchema.optional(),
  ids: z.array(z.uuid()).min(1).max(500).optional(),
  consumer: ConsumerNameSchema.optional(),
  reason: ReasonSchema.optional(),
  limit: z.number().int().min(1).max(500),
});
export type RedriveDeadLettersControl = z.infer<typeof RedriveDeadLettersControlSchema>;

export const RedrivenLetterSchema = z.object({
  id: z.uuid(),
  service: DeadLetterServiceSchema,
  consumer: z.string(),
  seq: z.number().int(),
  subject: z.string(),
  how: z
    .enum(['handle', 'replay'])
    .describe(
      '`handle`: its consumer handles it again now; `replay`: its projection is rebuilt from the log, this event included',
    ),
});

/** One service's answer: what it took back. */
export const RedriveReplySchema = z.object({
  service: DeadLetterServiceSchema,
  redriven: z.array(RedrivenLetterSchema),
  refused: z.array(
    z.object({
      id: z.uuid(),
      consumer: z.string(),
      why: z.enum(['redriving', 'no_consumer']),
    }),
  ),
  remaining: z.number().int(),
});
export type RedriveReply = z.infer<typeof RedriveReplySchema>;

const Unanswered = z
  .array(DeadLetterServiceSchema)
  .describe(
    'Services that did not answer in time (not running, or too busy): their letters are not in this answer',
  );

/** `GET /api/v1/admin/dead-letters`. */
export const DeadLetterListSchema = z.object({
  items: z.array(DeadLetterViewSchema),
  nextCursor: z.string().nullable().describe('Pass as `cursor` for the next page'),
  total: z.number().int().describe('Letters matching the filter in the services that answered'),
  unanswered: Unanswered,
});
export type DeadLetterList = z.infer<typeof DeadLetterListSchema>;

/** `POST /api/v1/admin/dead-letters/redrive` and `…/{id}/redrive`. */
export const RedriveResultSchema = z.object({
  redriven: z.array(RedrivenLetterSchema),
  remaining: z
    .number()
    .int()
    .describe(
      'Letters matching the filter still there (being redriven, past this call’s 500, or of a consumer no running replica has): redrive again to take more',
    ),
  unanswered: Unanswered,
});
export type RedriveResult = z.infer<typeof RedriveResultSchema>;
