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
import { assertAccess, type Access, type Principal } from './access.js';
import { KeysRepository } from './keys.repository.js';
import { RateLimiter } from './rate-limit.js';

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
 * In order: the key (401), its rate (429), its scope (403). Another project's resource is 404,
 * said by the code that looks it up in the caller's project.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly keys: KeysRepository,
    private readonly limiter: RateLimiter,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    // Commands on the bus (the executor's `resolveSecrets`) carry no API key: who may send them is
    // the bus's permissions (docs/bus-permissions.md). Every HTTP route is checked below.
    if (context.getType() === 'rpc') return true;
    if (context.getClass() === OpsController) return true;
    const access: Access = routeOf(context.getHandler())?.auth ?? 'platform';
    if (access === 'public') return true;
    const http = context.switchToHttp();
    const request = http.getRequest<AuthedRequest>();
    const principal = await this.authenticate(request.headers.authorization);
    const rate = this.limiter.take(principal.keyId, Date.now());
    if (!rate.allowed) {
      void http.getResponse<FastifyReply>().header('retry-after', String(rate.retryAfterSeconds));
      throw new AcaiError(
        AuthProblems.RATE_LIMITED,
        `Too many requests with this key (at most ${this.limiter.limit.perSecond} a second, ${this.limiter.limit.burst} at once); try again in ${rate.retryAfterSeconds} s`,
      );
    }
    assertAccess(access, principal);
    request.principal = principal;
    return true;
  }

  private async authenticate(header: string | undefined): Promise<Principal> {
    if (header === undefined || header === '') {
      throw new AcaiError(
        AuthProblems.API_KEY_MISSING,
        'Missing API key: send "Authorization: Bearer <key>" (npm run up writes the default project\'s key to $ACAI_HOME/default.key)',
      );
    }
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (match?.[1] === undefined) {
      throw new AcaiError(
        AuthProblems.AUTHORIZATION_MALFORMED,
        'The Authorization header must be "Bearer <key>" (the word Bearer, a space, then the key)',
      );
    }
    const principal = await this.keys.authenticate(match[1]);
    if (principal === null) {
      throw new AcaiError(
        AuthProblems.API_KEY_INVALID,
        'The API key is not valid (unknown or revoked)',
      );
    }
    return principal;
  }
}
