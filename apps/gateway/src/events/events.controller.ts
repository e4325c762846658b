import { Controller, Headers, Inject, Param, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { LOGGER, type EventingLogger } from '@acai/eventing';
import { Caller } from '../auth/auth.guard.js';
import type { Principal } from '../auth/keys.repository.js';
import { KeysRepository } from '../auth/keys.repository.js';
import { pathOf, queryOf, Route, Routes } from '../http/routes.js';
import { eventFilter, startPosition } from './event-filter.js';
import { ProjectEvents, type StreamedEvent } from './event-stream.js';
import {
  SubscriberCredentials,
  type CreatedSubscriberCredentials,
  type SubscriberView,
} from './subscriber-credentials.js';

/** How often a comment line is sent on an idle stream (`ACAI_SSE_HEARTBEAT_MS`). */
export class SseHeartbeat {
  constructor(readonly ms: number) {}
}

/** One event in Server-Sent Events framing: `id` its log position, `event` its type. */
export function sseFrame(event: StreamedEvent): string {
  return `id: ${event.seq}\nevent: ${event.type}\ndata: ${event.json}\n\n`;
}

@Controller()
export class EventsController {
  constructor(
    private readonly events: ProjectEvents,
    private readonly heartbeat: SseHeartbeat,
    private readonly subscribers: SubscriberCredentials,
    private readonly keys: KeysRepository,
    @Inject(LOGGER) private readonly logger: EventingLogger,
  ) {}

  /** A NATS user that may read the project's events and nothing else (see the route). */
  @Route(Routes.createSubscriberCredentials)
  async subscriber(
    @Caller() caller: Principal,
    @Param() params: unknown,
  ): Promise<CreatedSubscriberCredentials> {
    const { name: project } = pathOf(Routes.createSubscriberCredentials, params);
    await this.keys.assertVisible(caller, project);
    return this.subscribers.create(project);
  }

  @Route(Routes.listSubscriberCredentials)
  async subscriberList(
    @Caller() caller: Principal,
    @Param() params: unknown,
  ): Promise<{ items: SubscriberView[] }> {
    const { name: project } = pathOf(Routes.listSubscriberCredentials, params);
    await this.keys.assertVisible(caller, project);
    return { items: await this.subscribers.list(project) };
  }

  @Route(Routes.revokeSubscriberCredentials)
  async subscriberRevoke(
    @Caller() caller: Principal,
    @Param() params: unknown,
  ): Promise<SubscriberView> {
    const { name: project, user } = pathOf(Routes.revokeSubscriberCredentials, params);
    await this.keys.assertVisible(caller, project);
    return this.subscribers.revoke(project, user);
  }

  /**
   * The project's events as Server-Sent Events (see the route's description). The consumer is
   * made before the headers are sent: whatever is appended once they arrive is in the stream.
   */
  @Route(Routes.streamEvents)
  async stream(
    @Caller() caller: Principal,
    @Query() query: unknown,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const parsed = queryOf(Routes.streamEvents, query);
    const after = startPosition(parsed.after, lastEventId);
    const filter = eventFilter(parsed);
    const raw = reply.raw;
    // The client may go while the consumer is being made: then it is removed at once.
    const gone = new AbortController();
    raw.once('close', () => gone.abort());
    const subscription = await this.events.subscribe(caller.project, filter, after);
    if (gone.signal.aborted || raw.destroyed) {
      await subscription.close();
      return;
    }
    gone.signal.addEventListener('abort', () => void subscription.close(), { once: true });
    // A stream may carry nothing for long: the idle timeout does not apply (heartbeats do).
    raw.socket?.setTimeout(0);
    reply.hijack();
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
    });
    raw.flushHeaders();
    const heartbeat = setInterval(() => raw.write(': heartbeat\n\n'), this.heartbeat.ms);
    // A stream never keeps the process alive.
    heartbeat.unref();
    try {
      for await (const event of subscription.events) {
        if (!raw.write(sseFrame(event))) {
          await new Promise((resolve) => {
            raw.once('drain', resolve);
            raw.once('close', resolve);
          });
        }
      }
    } catch (error) {
      this.logger.warn(
        { project: caller.project, err: error instanceof Error ? error.message : String(error) },
        'event stream ended early',
      );
    } finally {
      clearInterval(heartbeat);
      await subscription.close();
      raw.end();
    }
  }
}
