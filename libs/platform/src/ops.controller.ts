import { Controller, Get, Header, HttpStatus, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ServiceContext } from './service-context.js';

interface Check {
  readonly name: string;
  readonly ok: boolean;
  /** What is wrong, in fixed words: the raw error (addresses, users, versions) goes to the log. */
  readonly detail?: string;
}

/** How long a dependency has to answer the readiness check. */
const CHECK_TIMEOUT_MS = 2_000;

class NoAnswer extends Error {}

/** `/healthz` (the process is up), `/readyz` (NATS and Postgres answer), `/metrics` (Prometheus). */
@Controller()
export class OpsController {
  /** The last error logged per dependency: a dependency that stays down is logged once. */
  private readonly logged = new Map<string, string>();

  constructor(private readonly ctx: ServiceContext) {}

  @Get('healthz')
  health() {
    return { status: 'ok', service: this.ctx.name };
  }

  @Get('readyz')
  async ready(@Res() reply: FastifyReply): Promise<void> {
    const checks = await Promise.all([this.checkNats(), this.checkPostgres()]);
    const ok = checks.every((c) => c.ok);
    await reply
      .status(ok ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE)
      .send({ status: ok ? 'ready' : 'not ready', service: this.ctx.name, checks });
  }

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4')
  async metrics(): Promise<string> {
    return this.ctx.metrics.registry.metrics();
  }

  private async checkNats(): Promise<Check> {
    const nc = this.ctx.bus.nc;
    if (nc.isClosed()) return { name: 'nats', ok: false, detail: 'connection closed' };
    return this.check('nats', () => nc.flush());
  }

  private checkPostgres(): Promise<Check> {
    return this.check('postgres', () => this.ctx.db.query('SELECT 1'));
  }

  private async check(name: string, probe: () => Promise<unknown>): Promise<Check> {
    try {
      await withTimeout(probe(), CHECK_TIMEOUT_MS);
      if (this.logged.delete(name))
        this.ctx.logger.info({ dependency: name }, 'dependency is back');
      return { name, ok: true };
    } catch (error) {
      const err = error instanceof Error ? error.message : String(error);
      // Probes come every few seconds: the same failure is logged once, a new one again.
      if (this.logged.get(name) !== err) {
        this.logged.set(name, err);
        this.ctx.logger.warn({ dependency: name, err }, 'readiness check failed');
      }
      const detail =
        error instanceof NoAnswer
          ? `no answer within ${CHECK_TIMEOUT_MS / 1000} s`
          : 'the check failed (the service log says why)';
      return { name, ok: false, detail };
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new NoAnswer(`no answer within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
