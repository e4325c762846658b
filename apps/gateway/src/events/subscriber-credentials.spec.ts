import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { JetStreamApiError } from '@nats-io/jetstream';
import { TimeoutError } from '@nats-io/nats-core';
import { NATS_AUTH_FILES } from '@acai/contracts';
import type { Bus, EventingLogger } from '@acai/eventing';
import { SubscriberCredentials } from './subscriber-credentials.js';

const USER = 'sub-beta-0123456789';
const logger: EventingLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** A bus whose consumer deletions answer, one call each, what `answers` says. */
function busAnswering(answers: (Error | true)[]): { bus: Bus; deleted: string[] } {
  const deleted: string[] = [];
  const consumers = {
    delete: (_stream: string, name: string) => {
      const answer = answers.shift() ?? true;
      if (answer !== true) return Promise.reject(answer);
      deleted.push(name);
      return Promise.resolve(true);
    },
  };
  const bus = { jsm: { consumers }, topology: { streams: { events: 'EVENTS' } } };
  return { bus: bus as unknown as Bus, deleted };
}

describe('SubscriberCredentials.revoke', () => {
  let dir: string;
  /** The "nats-server" told to reload: a process that a SIGHUP ends. */
  let server: ChildProcess;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'acai-subscribers-'));
    server = spawn('sleep', ['600'], { stdio: 'ignore' });
    const record = {
      user: USER,
      password: 'p',
      project: 'beta',
      createdAt: '2026-12-06T00:00:00Z',
    };
    await writeFile(path.join(dir, NATS_AUTH_FILES.records), JSON.stringify([record]));
    await writeFile(path.join(dir, NATS_AUTH_FILES.services), '');
    await writeFile(path.join(dir, NATS_AUTH_FILES.pid), String(server.pid));
  });

  afterEach(async () => {
    server.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  const records = async () =>
    JSON.parse(await readFile(path.join(dir, NATS_AUTH_FILES.records), 'utf8')) as unknown[];

  it('deletes the consumer, asking again while JetStream does not answer, before the user goes', async () => {
    const { bus, deleted } = busAnswering([new TimeoutError(), new TimeoutError(), true]);
    const credentials = new SubscriberCredentials(bus, 'nats://unused', dir, logger);
    await expect(credentials.revoke('beta', USER)).resolves.toMatchObject({ user: USER });
    expect(deleted).toEqual([USER]);
    expect(await records()).toEqual([]);
  });

  it('counts a consumer already gone as deleted', async () => {
    const gone = new JetStreamApiError({ code: 404, err_code: 10014, description: 'not found' });
    const { bus } = busAnswering([gone]);
    const credentials = new SubscriberCredentials(bus, 'nats://unused', dir, logger);
    await expect(credentials.revoke('beta', USER)).resolves.toMatchObject({ user: USER });
    expect(await records()).toEqual([]);
  });

  it('revokes nothing when the consumer cannot be deleted, so the revocation can be asked again', async () => {
    const refused = new JetStreamApiError({ code: 400, err_code: 10052, description: 'invalid' });
    const { bus, deleted } = busAnswering([refused]);
    const credentials = new SubscriberCredentials(bus, 'nats://unused', dir, logger);
    await expect(credentials.revoke('beta', USER)).rejects.toMatchObject({
      reason: 'DEPENDENCY_UNAVAILABLE',
    });
    expect(deleted).toEqual([]);
    expect(await records()).toHaveLength(1);
    // Not told to reload.
    expect(server.exitCode === null && server.signalCode === null).toBe(true);
  });
});
