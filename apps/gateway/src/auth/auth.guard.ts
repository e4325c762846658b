import {
  createParamDecorator,
  Injectable,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AcaiError, AuthProblems } from '@acai/contracts';
import { OpsController } from '@acai/platform';
import { routeOf } from '../http/routes.js';
import type { Access, Principal } from './access.js';
import { KeyCheck } from './key-check.js';

type AuthedRequest = FastifyRequest & { principal?: Principal };

/** The caller, as authenticated by ApiKeyGuard. */
export const Caller = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  const request = ctx.switchToHttp().getRequest<AuthedRequest>();
  if (request.principal === undefined)
    throw new AcaiError(
      AuthProblems.API_KEY_MISSING,
      'Not authenticated: send "Authorization: Bearer <key>"',
    );
  return request.principal;
});

/**
 * Guards every route of the gateway (it is the app's global guard). Who may call a route is said
 * once, in the route table (`auth` of its RouteSpec); a handler the table does not know needs the
 * platform admin key, so nothing is ever open by omission. The platform's ops endpoints
 * (`/healthz`, `/readyz`, `/metrics`) are for probes and Prometheus, and open.
 *
 * The key, its rate and its scope are checked by {@link KeyCheck}, as for gRPC.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(private readonly keys: KeyCheck) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    // Commands on the bus (the executor's `resolveSecrets`) carry no API key: who may send them is
    // the bus's permissions (docs/bus-permissions.md). Every HTTP route is checked below.
    if (context.getType() === 'rpc') return true;
    if (context.getClass() === OpsController) return true;
    const access: Access = routeOf(context.getHandler())?.auth ?? 'platform';
    if (access === 'public') return true;
    const http = context.switchToHttp();
    const request = http.getRequest<AuthedRequest>();
    request.principal = await this.keys.admit(request.headers.authorization, access, (seconds) => {
      void http.getResponse<FastifyReply>().header('retry-after', String(seconds));
    });
    return true;
  }
}
