import {
  createParamDecorator,
  Injectable,
  SetMetadata,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { AcaiError, ErrorCode } from '@acai/contracts';
import { KeysRepository, type Principal } from './keys.repository.js';

const PUBLIC = 'acai:public';
const ADMIN = 'acai:admin';

/** The route needs no key (the OpenAPI document and its page). */
export const Public = () => SetMetadata(PUBLIC, true);
/** The route needs an admin key. */
export const AdminOnly = () => SetMetadata(ADMIN, true);

type AuthedRequest = FastifyRequest & { principal?: Principal };

/** The caller, as authenticated by ApiKeyGuard. */
export const Caller = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  const request = ctx.switchToHttp().getRequest<AuthedRequest>();
  if (request.principal === undefined)
    throw new AcaiError(ErrorCode.Unauthenticated, 'Not authenticated');
  return request.principal;
});

/** Every API call carries `Authorization: Bearer <key>`; the key decides the project it sees. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly keys: KeysRepository,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC, targets) === true) return true;
    const request = context.switchToHttp().getRequest<AuthedRequest>();
    const header = request.headers.authorization;
    if (header === undefined || header === '') {
      throw new AcaiError(
        ErrorCode.Unauthenticated,
        'Missing API key: send "Authorization: Bearer <key>" (npm run up writes the default project\'s key to $ACAI_HOME/default.key)',
      );
    }
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (match?.[1] === undefined) {
      throw new AcaiError(
        ErrorCode.Unauthenticated,
        'The Authorization header must be "Bearer <key>" (the word Bearer, a space, then the key)',
      );
    }
    const principal = await this.keys.authenticate(match[1]);
    if (principal === null) {
      throw new AcaiError(
        ErrorCode.Unauthenticated,
        'The API key is not valid (unknown or revoked)',
      );
    }
    if (this.reflector.getAllAndOverride<boolean>(ADMIN, targets) === true && !principal.admin) {
      throw new AcaiError(ErrorCode.Unauthenticated, 'This operation needs an admin key');
    }
    request.principal = principal;
    return true;
  }
}
