import { Injectable } from '@nestjs/common';
import { AcaiError, AuthProblems } from '@acai/contracts';
import { assertAccess, type Access, type Principal } from './access.js';
import { KeysRepository } from './keys.repository.js';
import { RateLimiter } from './rate-limit.js';

/**
 * The check every call to the gateway passes, REST (ApiKeyGuard) and gRPC alike, in order: the key
 * in `Authorization: Bearer <key>` (401), its rate (429), its scope for the operation (403).
 * Another project's resource is 404, said by the code that looks it up in the caller's project.
 */
@Injectable()
export class KeyCheck {
  constructor(
    private readonly keys: KeysRepository,
    private readonly limiter: RateLimiter,
  ) {}

  /**
   * The caller, if its key may do an operation of `access` now; `retryAfter` hears the seconds to
   * wait before a refusal for its rate.
   */
  async admit(
    header: string | undefined,
    access: Exclude<Access, 'public'>,
    retryAfter: (seconds: number) => void,
  ): Promise<Principal> {
    const principal = await this.authenticate(header);
    const rate = this.limiter.take(principal.keyId, Date.now());
    if (!rate.allowed) {
      retryAfter(rate.retryAfterSeconds);
      throw new AcaiError(
        AuthProblems.RATE_LIMITED,
        `Too many requests with this key (at most ${this.limiter.limit.perSecond} a second, ${this.limiter.limit.burst} at once); try again in ${rate.retryAfterSeconds} s`,
      );
    }
    assertAccess(access, principal);
    return principal;
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
