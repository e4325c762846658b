import { defineProblems, ErrorCode } from '../errors.js';

/** Problems of the event stream and of subscribers' NATS credentials (the gateway). */
export const EventProblems = defineProblems('events', {
  SUBSCRIBER_NOT_FOUND: {
    code: ErrorCode.NotFound,
    title: 'The project has no subscriber credentials of this user',
  },
  SUBSCRIBERS_NOT_CONFIGURED: {
    code: ErrorCode.Unavailable,
    title: 'This gateway cannot make NATS users for subscribers (no ACAI_NATS_AUTH_DIR)',
  },
});
