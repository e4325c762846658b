import { createInbox, type Msg, type Subscription } from '@nats-io/nats-core';
import type { z } from 'zod';
import {
  AcaiError,
  BUS_SERVICES,
  CommonProblems,
  Controls,
  DeadLetterPageReplySchema,
  ListDeadLettersControlSchema,
  parseOrThrow,
  RedriveDeadLettersControlSchema,
  RedriveReplySchema,
  subjects,
  type BusService,
  type DeadLetterCursor,
  type DeadLetterPageReply,
  type DeadLetterView,
  type ErrorBody,
  type ListDeadLettersControl,
  type RedriveDeadLettersControl,
  type RedriveReply,
} from '@acai/contracts';
import type { Bus } from './bus.js';
import { decodeJson, encodeJson } from './codec.js';
import type { PostgresDeadLetters } from './dead-letters.js';
import { describeError } from './errors.js';
import { silentLogger, type EventingLogger } from './logger.js';

/**
 * Dead letters over the bus: every service keeps its own (in its own schema, which no other
 * service may read), so the platform admin's questions are broadcast on
 * `<prefix>.ctl.dead_letters.list` and `.redrive`, one replica of each service answers (a queue
 * group per service: replicas share a schema), and the gateway gathers the answers.
 */

/** A service's answer on the bus: its name either way, so a failure is told from silence. */
type ControlReply<T> =
  | { readonly service: string; readonly ok: true; readonly result: T }
  | { readonly service: string; readonly ok: false; readonly error: ErrorBody };

/** Room left in an answer for its envelope: a page of letters is cut to fit a bus message. */
const ENVELOPE_ROOM = 64 * 1024;

/**
 * Answers the dead-letter controls for one service, from its table; returns how to stop. A service
 * whose name is not one of the bus's (a test's) does not answer.
 */
export function serveDeadLetters(
  bus: Bus,
  service: string,
  letters: PostgresDeadLetters,
  logger: EventingLogger = silentLogger,
): { stop(): void } {
  const name = BUS_SERVICES.find((s) => s === service);
  if (name === undefined) return { stop: () => undefined };
  const answer = <Q extends { service?: BusService | undefined }, R>(
    topic: string,
    schema: z.ZodType<Q>,
    serve: (request: Q) => Promise<R>,
  ): Subscription =>
    bus.nc.subscribe(subjects.control(bus.topology, topic), {
      queue: name,
      callback: (err, msg) => {
        if (err !== null) {
          logger.error(
            { topic, err: describeError(err) },
            'dead-letter control subscription failed',
          );
          return;
        }
        void (async () => {
          let reply: ControlReply<R>;
          try {
            const request = parseOrThrow(schema, decodeJson(msg.data), `${topic} control`);
            // Asked of another service only.
            if (request.service !== undefined && request.service !== name) return;
            reply = { service: name, ok: true, result: await serve(request) };
          } catch (error) {
            logger.error({ topic, err: describeError(error) }, 'dead-letter control failed');
            reply = {
              service: name,
              ok: false,
              error: (error instanceof AcaiError
                ? error
                : new AcaiError(CommonProblems.INTERNAL, describeError(error))
              ).toBody(),
            };
          }
          if (msg.reply !== undefined) msg.respond(encodeJson(reply));
        })();
      },
    });
  const subscriptions = [
    answer(
      Controls.listDeadLetters,
      ListDeadLettersControlSchema,
      async (request): Promise<DeadLetterPageReply> => {
        const max = bus.nc.info?.max_payload ?? 1024 * 1024;
        const page = await letters.page({
          ...request,
          maxBytes: Math.max(4096, max - ENVELOPE_ROOM),
        });
        return {
          service: name,
          items: page.items.map(({ payload, eventType, ...row }) => ({
            ...row,
            service: name,
            type: eventType,
            ...(payload === undefined ? {} : { payload: payload.toString('base64') }),
          })),
          total: page.total,
          more: page.more,
        };
      },
    ),
    answer(
      Controls.redriveDeadLetters,
      RedriveDeadLettersControlSchema,
      async (request): Promise<RedriveReply> => {
        const result = await letters.redrive(request);
        if (result.redriven.length > 0) {
          logger.info(
            { letters: result.redriven.length, remaining: result.remaining },
            'dead letters redriven',
          );
        }
        return {
          service: name,
          redriven: result.redriven.map((l) => ({ ...l, service: name })),
          refused: result.refused,
          remaining: result.remaining,
        };
      },
    ),
  ];
  return { stop: () => subscriptions.forEach((s) => s.unsubscribe()) };
}

/** What the platform admin asks to list. */
export interface DeadLetterListQuery {
  readonly service?: BusService;
  readonly consumer?: string;
  readonly reason?: string;
  readonly after?: DeadLetterCursor;
  readonly limit: number;
  readonly payload: boolean;
}

/** Letters of every service that answered, merged in (createdAt, id) order. */
export interface GatheredPage {
  readonly items: DeadLetterView[];
  /** Where the next page starts; null on the last. */
  readonly next: DeadLetterCursor | null;
  readonly total: number;
  readonly unanswered: BusService[];
}

export interface GatheredRedrive {
  readonly redriven: RedriveReply['redriven'];
  readonly refused: (RedriveReply['refused'][number] & { service: BusService })[];
  readonly remaining: number;
  readonly unanswered: BusService[];
}

/** The platform admin's view of every service's dead letters (the gateway's port). */
export abstract class DeadLetterAdmin {
  abstract list(query: DeadLetterListQuery): Promise<GatheredPage>;
  abstract redrive(
    request: Omit<RedriveDeadLettersControl, 'limit'> & { readonly limit?: number },
  ): Promise<GatheredRedrive>;
}

export interface GatherTimes {
  /** Longest wait for every service to answer. */
  readonly maxWaitMs: number;
  /** Once some answered, how long to wait for the next before giving up on the rest. */
  readonly stallMs: number;
}

/**
 * Asks every service (or the one named) over the bus and gathers what they answer: all of them, or
 * what came before `maxWaitMs`, or before a `stallMs` silence after the last answer. A service that
 * does not answer (not running, too busy) is named in `unanswered`; its letters are not in the answer.
 */
export class BusDeadLetterAdmin implements DeadLetterAdmin {
  constructor(
    private readonly bus: Bus,
    private readonly logger: EventingLogger = silentLogger,
    private readonly times: GatherTimes = { maxWaitMs: 3_000, stallMs: 1_000 },
  ) {}

  async list(query: DeadLetterListQuery): Promise<GatheredPage> {
    const request: ListDeadLettersControl = {
      ...(query.service === undefined ? {} : { service: query.service }),
      ...(query.consumer === undefined ? {} : { consumer: query.consumer }),
      ...(query.reason === undefined ? {} : { reason: query.reason }),
      ...(query.after === undefined ? {} : { after: query.after }),
      limit: query.limit,
      payload: query.payload,
    };
    const { replies, unanswered } = await this.gather(
      Controls.listDeadLetters,
      request,
      query.service,
      DeadLetterPageReplySchema,
    );
    return { ...mergePages([...replies.values()], query.limit), unanswered };
  }

  async redrive(
    request: Omit<RedriveDeadLettersControl, 'limit'> & { readonly limit?: number },
  ): Promise<GatheredRedrive> {
    const { replies, unanswered } = await this.gather(
      Controls.redriveDeadLetters,
      { ...request, limit: request.limit ?? 500 },
      request.service,
      RedriveReplySchema,
    );
    const answers = [...replies.values()];
    return {
      redriven: answers.flatMap((a) => a.redriven),
      refused: answers.flatMap((a) => a.refused.map((r) => ({ ...r, service: a.service }))),
      remaining: answers.reduce((n, a) => n + a.remaining, 0),
      unanswered,
    };
  }

  private gather<T>(
    topic: string,
    request: object,
    only: BusService | undefined,
    schema: z.ZodType<T>,
  ): Promise<{ replies: Map<BusService, T>; unanswered: BusService[] }> {
    const expected: readonly BusService[] = only === undefined ? BUS_SERVICES : [only];
    const replies = new Map<BusService, T>();
    const failed = new Set<BusService>();
    const inbox = createInbox();
    return new Promise((resolve) => {
      let stall: NodeJS.Timeout | undefined;
      const finish = () => {
        clearTimeout(overall);
        clearTimeout(stall);
        subscription.unsubscribe();
        resolve({ replies, unanswered: expected.filter((s) => !replies.has(s)) });
      };
      const overall = setTimeout(finish, this.times.maxWaitMs);
      const heard = (msg: Msg) => {
        let reply: ControlReply<unknown>;
        try {
          reply = decodeJson(msg.data) as ControlReply<unknown>;
        } catch {
          return;
        }
        const service = expected.find((s) => s === reply.service);
        if (service === undefined || replies.has(service) || failed.has(service)) return;
        if (reply.ok) {
          const parsed = schema.safeParse(reply.result);
          if (parsed.success) replies.set(service, parsed.data);
          else failed.add(service);
        } else {
          this.logger.warn(
            { service, topic, err: reply.error.message },
            'a service could not answer about its dead letters',
          );
          failed.add(service);
        }
      };
      const subscription = this.bus.nc.subscribe(inbox, {
        callback: (err, msg) => {
          if (err !== null) return;
          heard(msg);
          if (replies.size + failed.size >= expected.length) {
            finish();
            return;
          }
          clearTimeout(stall);
          stall = setTimeout(finish, this.times.stallMs);
        },
      });
      this.bus.nc.publish(subjects.control(this.bus.topology, topic), encodeJson(request), {
        reply: inbox,
      });
    });
  }
}

/** Where a letter sorts: by time (fixed-width UTC, so as text), then id. */
function key(view: Pick<DeadLetterView, 'createdAt' | 'id'>): string {
  return `${view.createdAt} ${view.id}`;
}

function byKey(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * One page from the services' pages (each its own letters after the cursor, in order, `limit` at
 * most): their letters in order, ending where every service that has more has shown them (at the
 * earliest of their last letters), so that the next page, after the last letter shown, skips none.
 */
export function mergePages(
  pages: readonly DeadLetterPageReply[],
  limit: number,
): Omit<GatheredPage, 'unanswered'> {
  const all = pages.flatMap((p) => p.items).sort((a, b) => byKey(key(a), key(b)));
  const cutoffs = pages
    .filter((p) => p.more && p.items.length > 0)
    .map((p) => key(p.items[p.items.length - 1]!))
    .sort(byKey);
  const cutoff = cutoffs[0];
  const shown = cutoff === undefined ? all : all.filter((item) => key(item) <= cutoff);
  const items = shown.slice(0, limit);
  const more = shown.length > limit || cutoff !== undefined;
  const last = items[items.length - 1];
  return {
    items,
    next: more && last !== undefined ? { createdAt: last.createdAt, id: last.id } : null,
    total: pages.reduce((n, p) => n + p.total, 0),
  };
}
