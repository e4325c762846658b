import { describe, expect, it } from '@jest/globals';
import { AcaiError, AuthProblems, type KeyScope } from '@acai/contracts';
import { Routes, type RouteName } from '../http/routes.js';
import { assertAccess, type Access, type Principal } from './access.js';

const key = (scope: KeyScope, platformAdmin = false): Principal => ({
  project: 'vision',
  keyId: 'key-0000000000000000000000000',
  scope,
  platformAdmin,
});

/** What each kind of key gets from the guard for a route: allowed, or the problem's reason. */
function decide(access: Exclude<Access, 'public'>, caller: Principal): string {
  try {
    assertAccess(access, caller);
    return 'allowed';
  } catch (error) {
    if (error instanceof AcaiError) return error.reason;
    throw error;
  }
}

const entries = Object.entries(Routes) as [RouteName, (typeof Routes)[RouteName]][];

describe('the scope each route needs', () => {
  it('lets a read key call every GET of its project, and nothing that changes it', () => {
    const changes = entries.filter(([, r]) => r.method !== 'GET').map(([n]) => n);
    const reads = entries.filter(([, r]) => r.method === 'GET').map(([n]) => n);
    const readable = (name: RouteName) =>
      Routes[name].auth === 'public' || Routes[name].auth === 'read';
    // Reads: every GET but the key and subscriber listings (keys and NATS users are the project
    // admin's business), the secret listing (names only, for those who submit runs), and the read
    // models' state and the dead letters (the platform's).
    expect(reads.filter((n) => !readable(n))).toEqual([
      'listSubscriberCredentials',
      'listKeys',
      'listSecrets',
      'getProjection',
      'listDeadLetters',
    ]);
    // Changes: none but the plans (of a step, of a run), questions answered without running anything.
    expect(changes.filter(readable).sort()).toEqual(['planProvisioning', 'planRun']);
  });

  it('keeps key management, the storage budget and reuse sharing for the project admin, cross-project work for the platform admin', () => {
    const by = (access: Access) =>
      entries
        .filter(([, r]) => r.auth === access)
        .map(([n]) => n)
        .sort();
    expect(by('admin')).toEqual([
      'createKey',
      // NATS users that read the project's events.
      'createSubscriberCredentials',
      'deleteSecret',
      'listKeys',
      'listSubscriberCredentials',
      'putSecret',
      'revokeKey',
      'revokeSubscriberCredentials',
      // Whose runs may take the project's results: the project's own decision.
      'setReuseSharing',
      // What the materializer may evict: the project's own policy, not a writer's.
      'setStorageBudget',
    ]);
    expect(by('platform')).toEqual([
      'createProject',
      'getProjection',
      'listDeadLetters',
      'redriveDeadLetter',
      'redriveDeadLetters',
      'replayProjection',
      'setProjectQuota',
    ]);
    expect(by('public')).toEqual(['apiDocs', 'apiDocsAssets', 'asyncApi', 'openApi']);
  });

  it.each([
    ['read', 'allowed', 'KEY_SCOPE_REQUIRED', 'KEY_SCOPE_REQUIRED', 'ADMIN_KEY_REQUIRED'],
    ['write', 'allowed', 'allowed', 'KEY_SCOPE_REQUIRED', 'ADMIN_KEY_REQUIRED'],
    ['admin', 'allowed', 'allowed', 'allowed', 'ADMIN_KEY_REQUIRED'],
  ] as const)('a %s key: read %s, write %s, admin %s, platform %s', (scope, ...expected) => {
    const answers = (['read', 'write', 'admin', 'platform'] as const).map((access) =>
      decide(access, key(scope)),
    );
    expect(answers).toEqual(expected);
  });

  it('lets the platform admin key do everything', () => {
    for (const access of ['read', 'write', 'admin', 'platform'] as const) {
      expect(decide(access, key('admin', true))).toBe('allowed');
    }
  });

  it('names the scope needed and the one the key has', () => {
    expect(() => assertAccess('write', key('read'))).toThrow(
      expect.objectContaining({
        reason: AuthProblems.KEY_SCOPE_REQUIRED.reason,
        message: expect.stringContaining(
          "needs a key with scope 'write'; this key has scope 'read'",
        ),
      }),
    );
  });
});
