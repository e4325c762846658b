import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager } from '@nats-io/jetstream';
import pg from 'pg';
import { BUS_SERVICES } from '@acai/contracts';
import { startStack, type Stack } from '@acai/devstack';

const root = path.resolve(import.meta.dirname, '../..');

/**
 * The security issue's bus: the nats-server `npm run up` starts requires a user, and each service's
 * user may publish and subscribe only where its role says (docs/bus-permissions.md). Tried here with
 * no user, a wrong password, and the executor's credentials used for other services' subjects.
 */
describe('the bus and the database require credentials, and each service’s are its own', () => {
  let stack: Stack;
  let home: string;
  const connections: NatsConnection[] = [];

  const credentialsOf = async (user: string) =>
    JSON.parse(await readFile(path.join(home, 'nats-users', `${user}.json`), 'utf8')) as {
      user: string;
      password: string;
    };

  /** Connects as `user`; answers the connection and the permission errors the server reports. */
  const connectAs = async (user: string) => {
    const { password } = await credentialsOf(user);
    const nc = await connect({
      servers: stack.natsUrl,
      user,
      pass: password,
      name: `test-${user}`,
    });
    connections.push(nc);
    const refused: string[] = [];
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === 'error') refused.push(status.error.message);
      }
    })();
    return { nc, refused };
  };

  beforeAll(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'acai-credentials-'));
    stack = await startStack({ root, home, gatewayPort: 0, env: { ACAI_LOG_LEVEL: 'warn' } });
  });

  afterAll(async () => {
    for (const nc of connections) await nc.close().catch(() => undefined);
    await stack?.stop();
    await rm(home, { recursive: true, force: true });
  });

  it('refuses a client without credentials, or with a wrong password', async () => {
    await expect(connect({ servers: stack.natsUrl })).rejects.toThrow(/Authorization Violation/);
    await expect(
      connect({ servers: stack.natsUrl, user: 'executor', pass: 'guessed' }),
    ).rejects.toThrow(/Authorization Violation/);
  });

  it('keeps each service’s credentials in a file only the stack’s user reads, one per service', async () => {
    // $ACAI_HOME is closed to others (embedded Postgres passes through by its group).
    expect((await stat(home)).mode & 0o007).toBe(0);
    for (const service of BUS_SERVICES) {
      const file = path.join(home, 'nats-users', `${service}.json`);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
    }
  });

  it('refuses the executor’s credentials for what is not the executor’s', async () => {
    const { nc, refused } = await connectAs('executor');
    // Forge a file set event (the catalog's alone to append).
    nc.publish('acai.evt.default.fileset.forged', 'x');
    // Listen to the catalog's commands.
    const sub = nc.subscribe('acai.cmd.catalog.>');
    // Delete the event log, purge it, read the gateway's key revocations.
    const jsm = await jetstreamManager(nc);
    await expect(jsm.streams.delete('ACAI_EVENTS')).rejects.toThrow(/Permissions Violation/);
    await expect(jsm.streams.purge('ACAI_EVENTS')).rejects.toThrow(/Permissions Violation/);
    nc.subscribe('acai.ctl.key.revoked');
    await nc.flush();
    await expect(sub.closed).resolves.toMatchObject({ name: 'PermissionViolationError' });
    await new Promise((r) => setTimeout(r, 200));
    expect(refused).toEqual(
      expect.arrayContaining([
        'Permissions Violation for Publish to "acai.evt.default.fileset.forged"',
        'Permissions Violation for Subscription to "acai.cmd.catalog.>"',
        'Permissions Violation for Publish to "$JS.API.STREAM.DELETE.ACAI_EVENTS"',
        'Permissions Violation for Publish to "$JS.API.STREAM.PURGE.ACAI_EVENTS"',
        'Permissions Violation for Subscription to "acai.ctl.key.revoked"',
      ]),
    );
    // What is its own works: a heartbeat, the job events it appends.
    const before = refused.length;
    nc.publish('acai.ctl.node.heartbeat', '{}');
    await nc.flush();
    await new Promise((r) => setTimeout(r, 200));
    expect(refused.length).toBe(before);
  });

  it('gives Postgres a superuser password of its own, and each service a role that reads only its schema', async () => {
    const superuser = new URL(stack.databaseUrl);
    expect(superuser.password).not.toBe('postgres');
    const legacy = new URL(superuser);
    legacy.password = 'postgres';
    const tryLegacy = new pg.Client({ connectionString: legacy.toString() });
    await expect(tryLegacy.connect()).rejects.toMatchObject({ code: '28P01' });
    await tryLegacy.end().catch(() => undefined);

    const { password } = JSON.parse(
      await readFile(path.join(home, 'postgres-users', 'executor.json'), 'utf8'),
    ) as { password: string };
    const executor = new URL(superuser);
    executor.username = 'acai_executor';
    executor.password = password;
    const client = new pg.Client({ connectionString: executor.toString() });
    await client.connect();
    try {
      // The gateway's keys and the catalog's file sets are not the executor's to read.
      await expect(client.query('SELECT * FROM gateway.api_keys')).rejects.toMatchObject({
        code: '42501',
      });
      await expect(client.query('SELECT 1 FROM catalog.migrations')).rejects.toMatchObject({
        code: '42501',
      });
      await expect(client.query('CREATE SCHEMA intruder')).rejects.toMatchObject({ code: '42501' });
      // Its own schema is its own.
      const own = await client.query('SELECT count(*) FROM executor.migrations');
      expect(own.rowCount).toBe(1);
    } finally {
      await client.end();
    }
  });

  it('still runs the pipeline with every service on its own user, and the log is intact', async () => {
    const key = stack.key();
    const spec = JSON.parse(
      (await readFile(path.join(root, 'examples/hello/run.json'), 'utf8')).replaceAll(
        '{{examples}}',
        await stack.examples(),
      ),
    ) as unknown;
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const submitted = await fetch(`${stack.gatewayUrl}/api/v1/runs`, {
      method: 'POST',
      headers,
      body: JSON.stringify(spec),
    });
    expect(submitted.status).toBe(202);
    const { id } = (await submitted.json()) as { id: string };
    let status = 'queued';
    for (let i = 0; i < 600 && !['succeeded', 'failed', 'cancelled'].includes(status); i++) {
      await new Promise((r) => setTimeout(r, 100));
      const run = await fetch(`${stack.gatewayUrl}/api/v1/runs/${id}`, { headers });
      status = ((await run.json()) as { status: string }).status;
    }
    expect(status).toBe('succeeded');

    // A job with a secret: the executor's user may ask the gateway for it, and nothing else may.
    const put = await fetch(`${stack.gatewayUrl}/api/v1/projects/default/secrets/token`, {
      method: 'PUT',
      headers,
      body: JSON.stringify({ value: 'sesame' }),
    });
    expect(put.status).toBe(200);
    const withSecret = await fetch(`${stack.gatewayUrl}/api/v1/runs`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        name: 'secret',
        steps: [
          { name: 's', command: ['sh', '-c', 'echo "${#TOKEN}"'], secrets: { TOKEN: 'token' } },
        ],
      }),
    });
    const { id: secretRun, jobs } = (await withSecret.json()) as {
      id: string;
      jobs: { id: string }[];
    };
    status = 'queued';
    for (let i = 0; i < 600 && !['succeeded', 'failed', 'cancelled'].includes(status); i++) {
      await new Promise((r) => setTimeout(r, 100));
      const run = await fetch(`${stack.gatewayUrl}/api/v1/runs/${secretRun}`, { headers });
      status = ((await run.json()) as { status: string }).status;
    }
    const logs = await fetch(`${stack.gatewayUrl}/api/v1/jobs/${jobs[0]!.id}/logs`, { headers });
    expect({ status, logs: (await logs.text()).trim() }).toEqual({
      status: 'succeeded',
      logs: '6',
    });
    const { nc: scheduler } = await connectAs('scheduler');
    await expect(
      scheduler.request('acai.cmd.gateway.resolve_secrets', '{}', { timeout: 2000 }),
    ).rejects.toThrow(/Permissions Violation/);
    // The operator's user sees the stream the executor could not delete.
    const operator = await connect({ ...stack.natsOperator, name: 'test-operator' });
    connections.push(operator);
    const info = await (await jetstreamManager(operator)).streams.info('ACAI_EVENTS');
    expect(info.state.messages).toBeGreaterThan(0);
  });
});
