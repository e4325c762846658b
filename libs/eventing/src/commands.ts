import {
  headers as newHeaders,
  NoRespondersError,
  TimeoutError,
  type Msg,
  type Subscription,
} from '@nats-io/nats-core';
import {
  AcaiError,
  Commands,
  CommonProblems,
  parseOrThrow,
  subjects,
  commandByPattern,
  type CommandName,
  type CommandReply,
  type CommandRequest,
  type CommandResult,
  type ErrorBody,
} from '@acai/contracts';
import { assertFits, type Bus } from './bus.js';
import type { CommandSender } from './ports.js';
import { decodeJson, encodeJson } from './codec.js';
import { describeError } from './errors.js';
import { classifyFailure } from './failures.js';
import type { EventingLogger } from './logger.js';
import { extractTrace, injectTrace, inSpan, SpanKind } from './tracing.js';

/** Sends commands (core NATS request/reply) and turns error replies back into AcaiErrors. */
export class CommandClient implements CommandSender {
  constructor(
    private readonly bus: Bus,
    private readonly timeoutMs = 10_000,
  ) {}

  /** Sends a command; its request and result types come from the registry in the contracts. */
  async send<K extends CommandName>(
    name: K,
    request: CommandRequest<K>,
  ): Promise<CommandResult<K>> {
    const command = Commands[name];
    const subject = subjects.command(this.bus.topology, command.service, command.subjectName);
    return inSpan(
      `send ${command.pattern}`,
      {
        kind: SpanKind.CLIENT,
        attributes: { 'acai.service': this.bus.name, 'acai.command': command.pattern },
      },
      async () => {
        const h = newHeaders();
        injectTrace(h);
        const data = encodeJson(request);
        assertFits(
          this.bus,
          data.length,
          `The ${command.pattern} request`,
          'send less at once (a smaller run spec: fewer steps, shorter env values; fewer files per commit)',
        );
        let reply: Msg;
        try {
          reply = await this.bus.nc.request(subject, data, {
            timeout: this.timeoutMs,
            headers: h,
          });
        } catch (error) {
          if (
            error instanceof NoRespondersError ||
            (error instanceof Error && error.cause instanceof NoRespondersError)
          ) {
            throw new AcaiError(
              CommonProblems.SERVICE_UNAVAILABLE,
              `The ${command.service} service is not running (no one answers ${command.pattern}); start it and try again`,
            );
          }
          if (
            error instanceof TimeoutError ||
            (error instanceof Error && error.cause instanceof TimeoutError)
          ) {
            throw new AcaiError(
              CommonProblems.SERVICE_TIMEOUT,
              `The ${command.service} service did not answer ${command.pattern} within ${this.timeoutMs} ms; try again`,
            );
          }
          throw error;
        }
        const body = decodeJson(reply.data) as CommandReply<CommandResult<K>>;
        if (body.ok) return body.result;
        throw AcaiError.fromBody(body.error);
      },
    );
  }
}

export type CommandHandler = (request: unknown) => Promise<unknown>;

/**
 * Serves one service's commands: a queue-group subscription per command, the request validated
 * against its schema in the contracts, the reply `{ ok, result }` or `{ ok: false, error }`. A
 * handler for a command the registry does not have, or that another service owns, is refused
 * at start.
 */
export function serveCommands(
  bus: Bus,
  service: string,
  handlers: ReadonlyMap<string, CommandHandler>,
  logger: EventingLogger,
): Subscription[] {
  return [...handlers].map(([pattern, handler]) => {
    const definition = commandByPattern(pattern);
    if (definition === undefined) {
      throw new Error(
        `${service} handles '${pattern}', which is not a command of the registry in @acai/contracts: declare it there (bind handlers with @OnCommand)`,
      );
    }
    if (definition.service !== service) {
      throw new Error(
        `${service} handles '${pattern}', a command of ${definition.service} in the registry`,
      );
    }
    const subject = subjects.command(bus.topology, service, definition.subjectName);
    return bus.nc.subscribe(subject, {
      queue: service,
      callback: (err, msg) => {
        if (err !== null) {
          logger.error({ subject, err: describeError(err) }, 'command subscription failed');
          return;
        }
        void inSpan(
          `handle ${pattern}`,
          {
            kind: SpanKind.SERVER,
            attributes: { 'acai.service': bus.name, 'acai.command': pattern },
            parent: extractTrace(msg.headers),
          },
          async () => {
            let reply: CommandReply<unknown>;
            try {
              const request = parseOrThrow(
                definition.request,
                decodeJson(msg.data),
                `${pattern} request`,
              );
              reply = { ok: true, result: await handler(request) };
            } catch (error) {
              reply = { ok: false, error: commandErrorBody(error, logger, pattern) };
            }
            msg.respond(encodeJson(reply));
          },
        ).catch((error: unknown) =>
          logger.error({ subject, err: describeError(error) }, 'command reply failed'),
        );
      },
    });
  });
}

/**
 * The answer to a command whose handler failed: its own problem as it is; a dependency away (its
 * database, the bus) as DEPENDENCY_UNAVAILABLE and a lost race as CONCURRENT_CHANGE, both for the
 * sender to try again; anything else INTERNAL, logged here (the sender sees no detail).
 */
export function commandErrorBody(
  error: unknown,
  logger: EventingLogger,
  pattern: string,
): ErrorBody {
  if (error instanceof AcaiError) return error.toBody();
  if (error instanceof SyntaxError) {
    return new AcaiError(
      CommonProblems.INVALID_REQUEST,
      `${pattern}: request is not valid JSON`,
    ).toBody();
  }
  const kind = classifyFailure(error);
  if (kind === 'unavailable') {
    // Its database, the bus or a store is away: the sender may wait and ask again (an outage is
    // not a fault of the request, and must not fail the job or run that asked).
    logger.warn(
      { command: pattern, err: describeError(error) },
      'command handler could not reach a dependency; answered that it may be asked again',
    );
    return new AcaiError(
      CommonProblems.DEPENDENCY_UNAVAILABLE,
      `${pattern} could not be carried out now: the service could not reach its database, the bus or its store; try again shortly`,
    ).toBody();
  }
  if (kind === 'conflict') {
    return new AcaiError(
      CommonProblems.CONCURRENT_CHANGE,
      `${pattern} lost a race with another change of the same thing; try again`,
    ).toBody();
  }
  logger.error({ command: pattern, err: describeError(error) }, 'command handler failed');
  return new AcaiError(
    CommonProblems.INTERNAL,
    `${pattern} failed unexpectedly; see the service log`,
  ).toBody();
}
