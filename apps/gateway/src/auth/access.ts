import { AcaiError, assertUnreachable, AuthProblems, type KeyScope } from '@acai/contracts';

/**
 * Who may call a route, said once per route in the route table: anyone (`public`), a key of the
 * project with at least this scope (`read` < `write` < `admin`), or the platform admin key
 * (`platform`: operations across projects, such as creating one).
 */
export type Access = 'public' | KeyScope | 'platform';

/** The caller, as its API key makes it: one project, one scope. */
export interface Principal {
  readonly project: string;
  readonly keyId: string;
  readonly scope: KeyScope;
  /** The key `default`'s first start made: it also may act across projects. */
  readonly platformAdmin: boolean;
}

const RANK: Record<KeyScope, number> = { read: 0, write: 1, admin: 2 };

/** Whether a key of `scope` includes `needed`: an admin key may write, a write key may read. */
export function scopeIncludes(scope: KeyScope, needed: KeyScope): boolean {
  return RANK[scope] >= RANK[needed];
}

/**
 * Refuses (403) a caller whose key does not reach the route's access; a route about another
 * project's resource is refused later, as not found (404), by the code that looks it up.
 */
export function assertAccess(access: Exclude<Access, 'public'>, caller: Principal): void {
  switch (access) {
    case 'platform':
      if (caller.platformAdmin) return;
      throw new AcaiError(
        AuthProblems.ADMIN_KEY_REQUIRED,
        'This operation works across projects and needs the platform admin key (the one in $ACAI_HOME/default.key); this key belongs to one project',
      );
    case 'read':
    case 'write':
    case 'admin':
      if (scopeIncludes(caller.scope, access)) return;
      throw new AcaiError(
        AuthProblems.KEY_SCOPE_REQUIRED,
        `This operation needs a key with scope '${access}'; this key has scope '${caller.scope}' (an admin key of the project can create one: POST /api/v1/projects/${caller.project}/keys)`,
      );
    default:
      return assertUnreachable(access, 'access');
  }
}
