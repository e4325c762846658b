import {
  createParamDecorator,
  Injectable,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { AcaiError, AuthProblems } from '@acai/contracts';
import { routeOf } from '../http/routes.js';
import { KeysRepository, type Principal } from './keys.repository.js';

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

/** Every API call carries `Authorization: Bearer <key>`; the key decides the project it sees. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(private readonly keys: KeysRepository) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    // Who may call a route is said once, in the route table (`auth` of its RouteSpec).
    const auth = routeOf(context.getHandler())?.auth ?? 'key';
    if (auth === 'public') return true;
    const request = context.switchToHttp().getRequest<AuthedRequest>();
    const header = request.headers.authorization;
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
    if (auth === 'admin' && !principal.admin) {
      throw new AcaiError(
        AuthProblems.ADMIN_KEY_REQUIRED,
        'This operation needs an admin key; this key belongs to one project',
      );
    }
    request.principal = principal;
    return true;
  }
}
