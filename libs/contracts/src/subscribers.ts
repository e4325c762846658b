import type { BusPermissions } from './bus-permissions.js';
import { subjects, type Topology } from './subjects.js';

/**
 * Subscriber credentials (`POST /api/v1/projects/{name}/subscriber-credentials`): a NATS user that
 * may read its project's events and nothing else. Its durable consumer on the events stream (named
 * as the user, made by the gateway, filtered to the project's subjects) keeps its place while it is
 * away; it may read that consumer and acknowledge what it read, hear the project's event subjects,
 * and get replies on an inbox prefix of its own (not `_INBOX.>`, where other users' replies go).
 * It may not make consumers, publish events, send commands or read another project's subjects.
 */

/**
 * The files of a nats-server whose users change at run time, in one folder (`ACAI_NATS_AUTH_DIR`):
 * the configuration it reads (`config`: the services' entries and then the subscribers'), the
 * services' entries as the launcher wrote them, the subscribers' as the gateway wrote them, and the
 * server's pid (signalled to reload the configuration).
 */
export const NATS_AUTH_FILES = {
  /**
   * What nats-server is started with: JetStream (in the file, not only a flag, or a reload turns it
   * off) and `include` of `config`.
   */
  server: 'nats-server.conf',
  config: 'auth.conf',
  services: 'services.users',
  subscribers: 'subscribers.users',
  pid: 'nats-server.pid',
  /** The gateway's list of the subscribers it made (JSON), from which it writes `subscribers`. */
  records: 'subscribers.json',
} as const;

/** The inbox prefix a subscriber's NATS client must use (`inboxPrefix`). */
export function subscriberInbox(user: string): string {
  return `_INBOX_${user}`;
}

export function subscriberPermissions(t: Topology, project: string, user: string): BusPermissions {
  const stream = t.streams.events;
  return {
    publish: [
      `$JS.API.CONSUMER.INFO.${stream}.${user}`,
      `$JS.API.CONSUMER.MSG.NEXT.${stream}.${user}`,
      `$JS.ACK.${stream}.${user}.>`,
    ],
    subscribe: [subjects.projectEvents(t, project), `${subscriberInbox(user)}.>`],
  };
}

/**
 * A NATS user of a nats-server configuration file: its password (or `{ env }`: the name of the
 * server's environment variable that holds it), and what it may publish and subscribe to (`all`:
 * everything).
 */
export interface NatsUser {
  readonly user: string;
  readonly password: string | { readonly env: string };
  readonly permissions: BusPermissions | 'all';
}

/** The entries of `users` in nats-server's configuration syntax, one block per user. */
export function natsUserEntries(users: readonly NatsUser[]): string {
  const list = (values: readonly string[]) =>
    `[${values.map((v) => JSON.stringify(v)).join(', ')}]`;
  const lines: string[] = [];
  for (const u of users) {
    lines.push('    {', `      user: ${JSON.stringify(u.user)}`);
    lines.push(
      `      password: ${typeof u.password === 'string' ? JSON.stringify(u.password) : `$${u.password.env}`}`,
    );
    if (u.permissions !== 'all') {
      lines.push(
        '      permissions: {',
        `        publish: { allow: ${list(u.permissions.publish)} }`,
        `        subscribe: { allow: ${list(u.permissions.subscribe)} }`,
        '      }',
      );
    }
    lines.push('    }');
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/**
 * The nats-server `authorization` block of these users' entries (`natsUserEntries`), e.g. the
 * services' and the subscribers': no anonymous access.
 */
export function natsAuthorization(entries: readonly string[]): string {
  return ['authorization {', '  users = [', entries.join('').trimEnd(), '  ]', '}', ''].join('\n');
}
