import { Controller, Get, Header, HttpStatus, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ServiceContext } from './service-context.js';

interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail?: string;
}

/** `/healthz` (the process is up), `/readyz` (NATS and Postgres answer), `/metrics` (Prometheus). */
@Controller()
export class OpsController {
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
    try {
      await withTimeout(nc.flush(), 2_000);
      return { name: 'nats', ok: true };
    } catch (error) {
      return {
        name: 'nats',
        ok: false,
        detail: error instanceof Error ? error.message : String(error),
      };
    }
  }

  private async checkPostgres(): Promise<Check> {
    try {
      await withTimeout(this.ctx.db.query('SELECT 1'), 2_000);
      return { name: 'postgres', ok: true };
    } catch (error) {
      return {
        name: 'postgres',
        ok: false,
        detail: error instanceof Error ? error.message : String(error),
      };
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
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
