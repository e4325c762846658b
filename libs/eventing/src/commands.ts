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
  ErrorCode,
  parseOrThrow,
  subjects,
  type CommandName,
  type CommandReply,
  type CommandRequest,
  type ErrorBody,
} from '@acai/contracts';
import type { Bus } from './bus.js';
import { decodeJson, encodeJson } from './codec.js';
import { describeError } from './errors.js';
import type { EventingLogger } from './logger.js';
import { extractTrace, injectTrace, inSpan, SpanKind } from './tracing.js';

/** Sends commands (core NATS request/reply) and turns error replies back into AcaiErrors. */
export class CommandClient {
  constructor(
    private readonly bus: Bus,
    private readonly timeoutMs = 10_000,
  ) {}

  async send<K extends CommandName, R = unknown>(name: K, request: CommandRequest<K>): Promise<R> {
    const command = Commands[name];
    const subject = subjects.command(this.bus.topology, command.service, command.name);
    return inSpan(
      `send ${command.pattern}`,
      {
        kind: SpanKind.CLIENT,
        attributes: { 'acai.service': this.bus.name, 'acai.command': command.pattern },
      },
      async () => {
        const h = newHeaders();
        injectTrace(h);
        let reply: Msg;
        try {
          reply = await this.bus.nc.request(subject, encodeJson(request), {
            timeout: this.timeoutMs,
            headers: h,
          });
        } catch (error) {
          if (
            error instanceof NoRespondersError ||
            (error instanceof Error && error.cause instanceof NoRespondersError)
          ) {
            throw new AcaiError(
              ErrorCode.Unavailable,
              `The ${command.service} service is not running (no one answers ${command.pattern}); start it and try again`,
            );
          }
          if (
            error instanceof TimeoutError ||
            (error instanceof Error && error.cause instanceof TimeoutError)
          ) {
            throw new AcaiError(
              ErrorCode.Unavailable,
              `The ${command.service} service did not answer ${command.pattern} within ${this.timeoutMs} ms; try again`,
            );
          }
          throw error;
        }
        const body = decodeJson(reply.data) as CommandReply<R>;
        if (body.ok) return body.result;
        throw AcaiError.fromBody(body.error);
      },
    );
  }
}

export type CommandHandler = (request: unknown) => Promise<unknown>;

/**
 * Serves one service's commands: a queue-group subscription per command, the request validated
 * against its schema in the contracts, the reply `{ ok, result }` or `{ ok: false, error }`.
 */
export function serveCommands(
  bus: Bus,
  service: string,
  handlers: ReadonlyMap<string, CommandHandler>,
  logger: EventingLogger,
): Subscription[] {
  return [...handlers].map(([pattern, handler]) => {
    const definition = Object.values(Commands).find((c) => c.pattern === pattern);
    const [svc, name] = pattern.split('.') as [string, string | undefined];
    if (name === undefined || svc !== service) {
      throw new Error(`Command pattern '${pattern}' must be '${service}.<command>'`);
    }
    const subject = subjects.command(bus.topology, service, name);
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
              const raw = decodeJson(msg.data);
              const request =
                definition === undefined
                  ? raw
                  : parseOrThrow(definition.request, raw, `${pattern} request`);
              reply = { ok: true, result: await handler(request) };
            } catch (error) {
              reply = { ok: false, error: toErrorBody(error, logger, pattern) };
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

function toErrorBody(error: unknown, logger: EventingLogger, pattern: string): ErrorBody {
  if (error instanceof AcaiError) return error.toBody();
  if (error instanceof SyntaxError) {
    return { code: ErrorCode.ValidationFailed, message: `${pattern}: request is not valid JSON` };
  }
  logger.error({ command: pattern, err: describeError(error) }, 'command handler failed');
  return {
    code: ErrorCode.Internal,
    message: `${pattern} failed unexpectedly; see the service log`,
  };
}
