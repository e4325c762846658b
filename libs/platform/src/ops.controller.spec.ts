import { describe, expect, it, jest } from '@jest/globals';
import type { FastifyReply } from 'fastify';
import { OpsController } from './ops.controller.js';
import type { ServiceContext } from './service-context.js';

interface Answer {
  status: number;
  body: { status: string; checks: { name: string; ok: boolean; detail?: string }[] };
}

/** A reply that records what the controller answered. */
function recordingReply(): { reply: FastifyReply; answer: Partial<Answer> } {
  const answer: Partial<Answer> = {};
  const reply = {
    status(code: number) {
      answer.status = code;
      return reply;
    },
    send(body: Answer['body']) {
      answer.body = body;
      return Promise.resolve(reply);
    },
  };
  return { reply: reply as unknown as FastifyReply, answer };
}

function context(nats: () => Promise<void>, postgres: () => Promise<unknown>) {
  const warnings: unknown[] = [];
  const ctx = {
    name: 'gateway',
    logger: { warn: (fields: unknown) => warnings.push(fields), info: () => undefined },
    bus: { nc: { isClosed: () => false, flush: nats } },
    db: { query: postgres },
  } as unknown as ServiceContext;
  return { ctx, warnings };
}

describe('/readyz', () => {
  it('is ready when NATS and Postgres answer', async () => {
    const { ctx } = context(
      () => Promise.resolve(),
      () => Promise.resolve([{ '?column?': 1 }]),
    );
    const { reply, answer } = recordingReply();
    await new OpsController(ctx).ready(reply);
    expect(answer.status).toBe(200);
    expect(answer.body?.checks).toEqual([
      { name: 'nats', ok: true },
      { name: 'postgres', ok: true },
    ]);
  });

  it('names the dependency that is down without its raw error, which goes to the log', async () => {
    const raw = 'password authentication failed for user "acai_admin" at 10.0.0.7:5432';
    const { ctx, warnings } = context(
      () => Promise.resolve(),
      () => Promise.reject(new Error(raw)),
    );
    const { reply, answer } = recordingReply();
    const controller = new OpsController(ctx);
    await controller.ready(reply);
    expect(answer.status).toBe(503);
    expect(answer.body?.status).toBe('not ready');
    expect(answer.body?.checks).toEqual([
      { name: 'nats', ok: true },
      { name: 'postgres', ok: false, detail: 'the check failed (the service log says why)' },
    ]);
    expect(JSON.stringify(answer.body)).not.toContain('10.0.0.7');
    expect(warnings).toEqual([{ dependency: 'postgres', err: raw }]);

    // Probed again while still down: answered the same, not logged again.
    const again = recordingReply();
    await controller.ready(again.reply);
    expect(again.answer.status).toBe(503);
    expect(warnings).toHaveLength(1);
  });

  it('says a dependency that does not answer did not answer in time', async () => {
    jest.useFakeTimers();
    try {
      const { ctx } = context(
        () => new Promise<void>(() => undefined),
        () => Promise.resolve([]),
      );
      const { reply, answer } = recordingReply();
      const checking = new OpsController(ctx).ready(reply);
      await jest.advanceTimersByTimeAsync(2_000);
      await checking;
      expect(answer.status).toBe(503);
      expect(answer.body?.checks[0]).toEqual({
        name: 'nats',
        ok: false,
        detail: 'no answer within 2 s',
      });
    } finally {
      jest.useRealTimers();
    }
  });
});
