import { defineProblems, ErrorCode } from '../errors.js';

/** Problems of projects' secrets (the gateway). */
export const SecretProblems = defineProblems('secrets', {
  SECRET_NOT_FOUND: { code: ErrorCode.NotFound, title: 'The project has no secret of this name' },
  SECRET_NAME_UNKNOWN: {
    code: ErrorCode.ValidationFailed,
    title: 'A step names a secret its project does not have',
  },
  SECRETS_NOT_CONFIGURED: {
    code: ErrorCode.Unavailable,
    title: 'Secrets are off on this gateway (no ACAI_SECRETS_KEY)',
  },
});
