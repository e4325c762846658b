import { defineProblems, ErrorCode } from '../errors.js';

/** Problems of API keys and projects (the gateway). */
export const AuthProblems = defineProblems('auth', {
  API_KEY_MISSING: { code: ErrorCode.Unauthenticated, title: 'The request has no API key' },
  AUTHORIZATION_MALFORMED: {
    code: ErrorCode.Unauthenticated,
    title: 'The Authorization header is not "Bearer <key>"',
  },
  API_KEY_INVALID: { code: ErrorCode.Unauthenticated, title: 'The API key is unknown or revoked' },
  ADMIN_KEY_REQUIRED: {
    code: ErrorCode.Forbidden,
    title: 'The operation needs the platform admin key, not a project key',
  },
  KEY_SCOPE_REQUIRED: {
    code: ErrorCode.Forbidden,
    title: 'The API key’s scope does not allow this operation',
  },
  RATE_LIMITED: {
    code: ErrorCode.RateLimited,
    retryable: true,
    title: 'Too many requests with this API key; try again after Retry-After seconds',
  },
  PROJECT_NAME_INVALID: { code: ErrorCode.ValidationFailed, title: 'The project name is invalid' },
  PROJECT_EXISTS: { code: ErrorCode.Conflict, title: 'A project with this name exists already' },
  PROJECT_NOT_FOUND: { code: ErrorCode.NotFound, title: 'No such project for this key' },
  KEY_NOT_FOUND: { code: ErrorCode.NotFound, title: 'No such API key in this project' },
});
