import { defineProblems, ErrorCode } from '../errors.js';

/** Problems of the event stream and of subscribers' NATS credentials (the gateway). */
export const EventProblems = defineProblems('events', {
  SUBSCRIBERS_NOT_CONFIGURED: {
    code: ErrorCode.Unavailable,
    title: 'This gateway cannot make NATS users for subscribers (no ACAI_NATS_AUTH_DIR)',
  },
});
