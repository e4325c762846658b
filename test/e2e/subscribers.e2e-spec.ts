import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jetstream } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startNats, type StartedService } from '@acai/devstack';
import { eventually } from '@acai/testkit';
import { startSystem, type TestSystem } from '../support/system.js';

interface Credentials {
  user: string;
  password: string;
  project: string;
  subject: string;
  stream: string;
  consumer: string;
  inboxPrefix: string;
}

/**
 * Subscriber credentials on a nats-server of the test's own that requires users, as `npm run up`
 * starts it: the services log in as the operator, the gateway adds subscribers' users at run time.
 */
describe('subscriber credentials (NATS users that read one project’s events)', () => {
  let dataDir: string;
  let nats: StartedService;
  let system: TestSystem;
  let betaKey: string;
  let prefix: string;
  const connections: NatsConnection[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'acai-nats-'));
    const password = randomBytes(16).toString('hex');
    nats = await startNats({
      dataDir,
      users: [{ user: 'operator', password, permissions: 'all' }],
    });
    system = await startSystem({
      env: {
        NATS_URL: nats.url,
        ACAI_NATS_USER: 'operator',
        ACAI_NATS_PASSWORD: password,
        ACAI_NATS_AUTH_DIR: dataDir,
      },
    });
    prefix = system.services['gateway']!.ctx.bus.topology.prefix;
    const beta = await system.api('POST', '/api/v1/projects', { name: 'beta' });
    expect(beta.status).toBe(201);
    betaKey = (beta.body as { key: string }).key;
  });

  afterAll(async () => {
    for (const nc of connections) await nc.close().catch(() => undefined);
    await system?.close();
    await nats?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const login = async (c: Credentials) => {
    const nc = await connect({
      servers: nats.url,
      user: c.user,
      pass: c.password,
      inboxPrefix: c.inboxPrefix,
    });
    connections.push(nc);
    return nc;
  };

  /** The permission errors the server sends this connection, as `operation subject`. */
  const refusals = (nc: NatsConnection) => {
    const seen: string[] = [];
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'error' && 'operation' in s.error && 'subject' in s.error) {
          seen.push(`${String(s.error.operation)} ${String(s.error.subject)}`);
        }
      }
    })();
    return seen;
  };

  it('makes a user that reads its project’s events through its own consumer and nothing else', async () => {
    const made = await system.api('POST', '/api/v1/projects/default/subscriber-credentials');
    expect(made.status).toBe(201);
    const c = made.body as Credentials;
    expect(c).toMatchObject({
      project: 'default',
      subject: `${prefix}.evt.default.>`,
      consumer: c.user,
    });
    const nc = await login(c);
    const refused = refusals(nc);

    // Its consumer keeps events from when it was made: beta's are not among them.
    const x = await system.api('POST', '/api/v1/filesets', { name: 'x' }, betaKey);
    expect(x.status).toBe(201);
    expect((await system.api('POST', '/api/v1/filesets', { name: 'wanted' })).status).toBe(201);
    const consumer = await jetstream(nc).consumers.get(c.stream, c.consumer);
    const msg = await consumer.next({ expires: 10_000 });
    expect(msg).not.toBeNull();
    const event = msg!.json<{ type: string; project: string; aggregateId: string }>();
    expect(event).toMatchObject({
      type: 'fileset.created',
      project: 'default',
      aggregateId: 'wanted',
    });
    msg!.ack();

    // A core subscription to its project's subjects hears new events.
    const live = nc.subscribe(c.subject, { max: 1 });
    await nc.flush();
    expect((await system.api('POST', '/api/v1/filesets', { name: 'live' })).status).toBe(201);
    for await (const m of live) {
      expect(m.json<{ aggregateId: string }>().aggregateId).toBe('live');
    }

    // Another project's subjects, publishing, the commands and a consumer of its own: refused.
    const other = nc.subscribe(`${prefix}.evt.beta.>`);
    nc.publish(`${prefix}.evt.default.fileset.forged`, '{}');
    nc.publish(`${prefix}.cmd.catalog.create_fileset`, '{}');
    await expect(
      nc.request(`$JS.API.CONSUMER.CREATE.${c.stream}`, '{}', { timeout: 2_000 }),
    ).rejects.toThrow();
    await nc.flush();
    expect(await other.closed).toBeInstanceOf(Error);
    await eventually('the server to refuse all three', async () =>
      refused.length >= 3 ? true : undefined,
    );
    expect(refused).toEqual(
      expect.arrayContaining([
        `subscription ${prefix}.evt.beta.>`,
        `publish ${prefix}.evt.default.fileset.forged`,
        `publish ${prefix}.cmd.catalog.create_fileset`,
      ]),
    );
    // Nothing was forged.
    const forged = await system.api('GET', '/api/v1/filesets/forged');
    expect(forged.status).toBe(404);
  });

  it('is for an admin of that project only, and its user hears nothing of another project', async () => {
    const stranger = await system.api(
      'POST',
      '/api/v1/projects/default/subscriber-credentials',
      undefined,
      betaKey,
    );
    expect(stranger.status).toBe(404);
    const own = await system.api(
      'POST',
      '/api/v1/projects/beta/subscriber-credentials',
      undefined,
      betaKey,
    );
    expect(own.status).toBe(201);
    const c = own.body as Credentials;
    expect(c.subject).toBe(`${prefix}.evt.beta.>`);
    const nc = await login(c);
    const refused = refusals(nc);
    const sub = nc.subscribe(`${prefix}.evt.default.>`);
    await nc.flush();
    expect(await sub.closed).toBeInstanceOf(Error);
    await eventually('the server to refuse it', async () =>
      refused.includes(`subscription ${prefix}.evt.default.>`) ? true : undefined,
    );

    // Listed (without its password) for beta's admin only; revoked, its user is gone at once.
    const list = await system.api(
      'GET',
      '/api/v1/projects/beta/subscriber-credentials',
      undefined,
      betaKey,
    );
    expect(list.status).toBe(200);
    expect(list.body).toEqual({
      items: [{ user: c.user, project: 'beta', consumer: c.user, createdAt: expect.any(String) }],
    });
    expect(list.text).not.toContain(c.password);
    const revoke = `/api/v1/projects/beta/subscriber-credentials/${c.user}`;
    // Not another project's to revoke.
    const elsewhere = await system.api(
      'DELETE',
      `/api/v1/projects/default/subscriber-credentials/${c.user}`,
    );
    expect([elsewhere.status, (elsewhere.body as { reason: string }).reason]).toEqual([
      404,
      'SUBSCRIBER_NOT_FOUND',
    ]);
    expect((await system.api('DELETE', revoke, undefined, betaKey)).status).toBe(200);
    await nc.closed();
    await expect(login(c)).rejects.toThrow();
    const bus = system.services['gateway']!.ctx.bus;
    await expect(bus.jsm.consumers.info(c.stream, c.consumer)).rejects.toThrow();
    expect((await system.api('DELETE', revoke, undefined, betaKey)).status).toBe(404);
  });

  it('drives examples/subscriber: a new version of the file set submits a run, whose failure it prints', async () => {
    const made = await system.api('POST', '/api/v1/projects/default/subscriber-credentials');
    expect(made.status).toBe(201);
    const credentials = path.join(dataDir, 'subscriber.json');
    await writeFile(credentials, JSON.stringify(made.body), { mode: 0o600 });
    // A retraining that fails, so that the example has a failure to print.
    const spec = path.join(dataDir, 'retrain.json');
    await writeFile(
      spec,
      JSON.stringify({
        name: 'retrain',
        steps: [
          { name: 'train', command: ['sh', '-c', 'echo on $FILESET v$FILESET_VERSION; exit 3'] },
        ],
      }),
    );
    expect((await system.api('POST', '/api/v1/filesets', { name: 'digits' })).status).toBe(201);
    const example = spawn(
      process.execPath,
      [
        path.resolve(import.meta.dirname, '../../examples/subscriber/subscriber.mjs'),
        '--credentials',
        credentials,
        '--fileset',
        'digits',
        '--run',
        spec,
      ],
      {
        env: {
          PATH: process.env['PATH'],
          NATS_URL: nats.url,
          ACAI_URL: system.gatewayUrl,
          ACAI_KEY: system.key,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    example.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    example.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      await eventually('the example to listen', async () =>
        output.includes('listening') ? true : undefined,
      );
      const committed = await system.api('POST', '/api/v1/filesets/digits/versions', {
        parent: 0,
        put: [],
      });
      expect(committed.status).toBe(201);
      const submitted = await eventually(
        'the example to submit a run',
        async () => /submitted run (run-\S+) for digits v1/.exec(output)?.[1],
      );
      const run = await system.waitForRun(submitted);
      expect(run.status).toBe('failed');
      await eventually('the example to print the failures', async () =>
        output.includes(`run ${submitted} failed`) &&
        /job job-\S+ failed \(nonzero_exit\)/.test(output)
          ? true
          : undefined,
      );
    } finally {
      example.kill('SIGTERM');
    }
  });
});
