import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AckPolicy, DeliverPolicy, JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { z } from 'zod';
import {
  AcaiError,
  CommonProblems,
  EventProblems,
  NATS_AUTH_FILES,
  natsAuthorization,
  natsUserEntries,
  subjects,
  subscriberInbox,
  subscriberPermissions,
} from '@acai/contracts';
import { classifyFailure, type Bus, type EventingLogger } from '@acai/eventing';

/** What `POST /api/v1/projects/{name}/subscriber-credentials` answers (the password once). */
export const SubscriberCredentialsSchema = z.object({
  user: z.string(),
  password: z.string(),
  project: z.string(),
  subject: z.string().describe('The project’s event subjects, for a core NATS subscription'),
  stream: z.string(),
  consumer: z.string().describe('A durable consumer of `stream` of the user’s own'),
  inboxPrefix: z.string().describe('Set it as the NATS client’s `inboxPrefix`'),
});
export type CreatedSubscriberCredentials = z.infer<typeof SubscriberCredentialsSchema>;

/** What the list of a project's subscriber credentials shows: never the password. */
export const SubscriberViewSchema = z.object({
  user: z.string(),
  project: z.string(),
  consumer: z.string(),
  createdAt: z.string(),
});
export type SubscriberView = z.infer<typeof SubscriberViewSchema>;

/** A subscriber user's name: `sub-<project>-<10 hex digits>`. */
export const SubscriberUserSchema = z
  .string()
  .regex(/^sub-[a-z0-9-]{1,40}-[0-9a-f]{10}$/, 'a subscriber user, as its credentials name it')
  .describe('The subscriber’s NATS user');

const RecordSchema = z.object({
  user: z.string(),
  password: z.string(),
  project: z.string(),
  createdAt: z.string(),
});
type SubscriberRecord = z.infer<typeof RecordSchema>;

/** How long a new user may take to be accepted after nats-server was told to reload. */
const RELOAD_WAIT_MS = 10_000;

/**
 * Makes NATS users for subscribers on a nats-server 2.9 with users in its configuration file: the
 * gateway keeps their list in `ACAI_NATS_AUTH_DIR` (the server's folder), writes their entries
 * after the services' (`NATS_AUTH_FILES`), and signals the server (its pid file) to reload. One
 * gateway writes them at a time (others would overwrite each other's): see deploy/README.md.
 */
export class SubscriberCredentials {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly bus: Bus,
    private readonly natsUrl: string,
    private readonly dir: string | undefined,
    private readonly logger: EventingLogger,
  ) {}

  create(project: string): Promise<CreatedSubscriberCredentials> {
    const dir = this.configured();
    return this.serially(() => this.add(dir, project));
  }

  async list(project: string): Promise<SubscriberView[]> {
    const dir = this.configured();
    return (await this.records(dir))
      .filter((r) => r.project === project)
      .map((r) => ({ user: r.user, project: r.project, consumer: r.user, createdAt: r.createdAt }));
  }

  /**
   * Removes the user from nats-server (which closes its connections on the reload) and its
   * consumer from the stream.
   */
  revoke(project: string, user: string): Promise<SubscriberView> {
    const dir = this.configured();
    return this.serially(async () => {
      const records = await this.records(dir);
      const record = records.find((r) => r.user === user && r.project === project);
      if (record === undefined) {
        throw new AcaiError(
          EventProblems.SUBSCRIBER_NOT_FOUND,
          `Project ${project} has no subscriber credentials of user ${user}; list them with GET /api/v1/projects/${project}/subscriber-credentials`,
        );
      }
      // The consumer first: the user cannot make it again (it may only read it), and if the bus
      // cannot delete it now, nothing has changed and the revocation can be asked again. (It was
      // deleted after the reload once, with its failure ignored, and a revoked user's consumer
      // stayed behind.)
      await this.deleteConsumer(user);
      const rest = records.filter((r) => r !== record);
      await writeSecret(path.join(dir, NATS_AUTH_FILES.records), JSON.stringify(rest, null, 2));
      await this.configure(dir, rest);
      this.logger.info({ project, user }, 'subscriber credentials revoked');
      return { user, project, consumer: user, createdAt: record.createdAt };
    });
  }

  /** Deletes a subscriber's consumer, asking again while JetStream is away; gone already is done. */
  private async deleteConsumer(user: string): Promise<void> {
    const deadline = Date.now() + RELOAD_WAIT_MS;
    for (;;) {
      try {
        await this.bus.jsm.consumers.delete(this.bus.topology.streams.events, user);
        return;
      } catch (error) {
        if (
          error instanceof JetStreamApiError &&
          error.code === JetStreamApiCodes.ConsumerNotFound
        ) {
          return;
        }
        if (classifyFailure(error) !== 'unavailable' || Date.now() > deadline) {
          throw new AcaiError(
            CommonProblems.DEPENDENCY_UNAVAILABLE,
            `The subscriber's consumer ${user} could not be deleted (${error instanceof Error ? error.message : String(error)}); nothing was revoked, ask again shortly`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  private configured(): string {
    if (this.dir === undefined) {
      throw new AcaiError(
        EventProblems.SUBSCRIBERS_NOT_CONFIGURED,
        'This gateway cannot make NATS users: start it with ACAI_NATS_AUTH_DIR, the folder of a nats-server configuration it may rewrite (npm run up does this); until then read events with GET /api/v1/events',
      );
    }
    return this.dir;
  }

  /** One change of the server's configuration at a time. */
  private serially<T>(change: () => Promise<T>): Promise<T> {
    const next = this.queue.then(change);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async add(dir: string, project: string): Promise<CreatedSubscriberCredentials> {
    const t = this.bus.topology;
    const user = `sub-${project}-${randomBytes(5).toString('hex')}`;
    const password = randomBytes(24).toString('base64url');
    const subject = subjects.projectEvents(t, project);
    // Its place in the log, kept while it is away: events from now on.
    await this.bus.jsm.consumers.add(t.streams.events, {
      durable_name: user,
      filter_subject: subject,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.New,
      max_ack_pending: 1_000,
    });
    const records = [
      ...(await this.records(dir)),
      { user, password, project, createdAt: new Date().toISOString() },
    ];
    await writeSecret(path.join(dir, NATS_AUTH_FILES.records), JSON.stringify(records, null, 2));
    await this.configure(dir, records);
    await this.untilAccepted(user, password);
    this.logger.info({ project, user }, 'subscriber credentials made');
    return {
      user,
      password,
      project,
      subject,
      stream: t.streams.events,
      consumer: user,
      inboxPrefix: subscriberInbox(user),
    };
  }

  private async records(dir: string): Promise<SubscriberRecord[]> {
    let text: string;
    try {
      text = await readFile(path.join(dir, NATS_AUTH_FILES.records), 'utf8');
    } catch {
      return [];
    }
    return z.array(RecordSchema).parse(JSON.parse(text));
  }

  /** Writes the subscribers' entries and the whole configuration, then has nats-server reload it. */
  private async configure(dir: string, records: readonly SubscriberRecord[]): Promise<void> {
    const t = this.bus.topology;
    const entries = natsUserEntries(
      records.map((r) => ({
        user: r.user,
        password: r.password,
        permissions: subscriberPermissions(t, r.project, r.user),
      })),
    );
    const services = await readFile(path.join(dir, NATS_AUTH_FILES.services), 'utf8');
    await writeSecret(path.join(dir, NATS_AUTH_FILES.subscribers), entries);
    await writeSecret(
      path.join(dir, NATS_AUTH_FILES.config),
      natsAuthorization([services, entries]),
    );
    const pid = Number((await readFile(path.join(dir, NATS_AUTH_FILES.pid), 'utf8')).trim());
    // nats-server reloads its configuration on SIGHUP (`nats-server --signal reload`).
    process.kill(pid, 'SIGHUP');
  }

  private async untilAccepted(user: string, pass: string): Promise<void> {
    const deadline = Date.now() + RELOAD_WAIT_MS;
    for (;;) {
      try {
        const nc = await connect({ servers: this.natsUrl, user, pass, reconnect: false });
        await nc.close();
        return;
      } catch (error) {
        if (Date.now() > deadline) {
          throw new AcaiError(
            CommonProblems.DEPENDENCY_UNAVAILABLE,
            `nats-server did not take the new user within ${RELOAD_WAIT_MS / 1000} s (${error instanceof Error ? error.message : String(error)}); see its log`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }
}

/** Writes a file of secrets (mode 0600) whole: a reader never sees half of it. */
async function writeSecret(file: string, content: string): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, content, { mode: 0o600 });
  await rename(temporary, file);
}
