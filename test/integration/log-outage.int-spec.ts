import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { isolatedTopology, logStreamName, LogChunkSchema, subjects } from '@acai/contracts';
import { startNats, type StartedService } from '@acai/devstack';
import { connectBus, decodeJson, ensureLogStream, type Bus } from '@acai/eventing';
import { LogPublisher, sharedEnsure } from '@acai/execution';
import { eventually, uniqueTag } from '@acai/testkit';

/**
 * A job's output while nats-server is down: the node keeps it (bounded) and sends it once the
 * server is back, each line once; and a project whose logs stream does not exist yet gets it made.
 * A nats-server of its own, stopped and started again on the same port and store.
 */
let dataDir: string;
let nats: StartedService;
let bus: Bus;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'acai-log-outage-'));
  nats = await startNats({ dataDir });
  bus = await connectBus({
    url: nats.url,
    name: 'log-outage-it',
    topology: isolatedTopology(uniqueTag()),
  });
});

afterAll(async () => {
  await bus?.close();
  await nats?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

const retention = { maxAgeMs: 3_600_000, maxBytes: 1024 * 1024 };

async function stored(project: string, jobId: string): Promise<string[]> {
  const lines: string[] = [];
  const subject = subjects.output(bus.topology, project, jobId);
  for (let seq = 1; ;) {
    const msg = await bus.jsm.direct.getMessage(logStreamName(bus.topology, project), {
      seq,
      next_by_subj: subject,
    });
    if (msg === null) return lines;
    seq = msg.seq + 1;
    lines.push(...LogChunkSchema.parse(decodeJson(msg.data)).lines.map((l) => l.l));
  }
}

describe('job output and an unreachable bus', () => {
  it('has the project’s stream made when there is none', async () => {
    const asked: string[] = [];
    const logs = new LogPublisher(bus, 'fresh', 'job-1', 1, {
      retryMs: 20,
      ensureStream: sharedEnsure(async (project) => {
        asked.push(project);
        await ensureLogStream(bus, project, retention);
      }),
    });
    logs.line('out', 'first words');
    await logs.end('succeeded');
    expect(asked).toEqual(['fresh']);
    expect(await stored('fresh', 'job-1')).toEqual(['first words']);
  });

  it('keeps the lines printed while nats-server is down and sends them, once each, when it is back', async () => {
    await ensureLogStream(bus, 'p1', retention);
    const logs = new LogPublisher(bus, 'p1', 'job-2', 1, { retryMs: 20 });
    logs.line('out', 'before');
    await eventually('the first line to be stored', async () =>
      (await stored('p1', 'job-2')).length === 1 ? true : undefined,
    );
    const port = Number(new URL(nats.url).port);
    await nats.stop();
    for (let i = 0; i < 500; i++) logs.line('out', `during ${i}`);
    // Long enough for several failed tries.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    nats = await startNats({ dataDir, port });
    logs.line('out', 'after');
    await logs.end('succeeded');
    expect(await stored('p1', 'job-2')).toEqual([
      'before',
      ...Array.from({ length: 500 }, (_, i) => `during ${i}`),
      'after',
    ]);
    expect(logs.linesLost).toBe(0);
  });
});
