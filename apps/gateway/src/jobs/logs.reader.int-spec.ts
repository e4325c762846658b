import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { isolatedTopology, logStreamName, subjects, type LogChunk } from '@acai/contracts';
import {
  connectBus,
  deleteStreams,
  encodeJson,
  ensureLogStream,
  silentLogger,
  type Bus,
} from '@acai/eventing';
import { testEnv, uniqueTag } from '@acai/testkit';
import { ProjectLogStreams } from './log-streams.js';
import { BusJobLogs } from './logs.reader.js';

let bus: Bus;
let streams: ProjectLogStreams;
let logs: BusJobLogs;

beforeAll(async () => {
  bus = await connectBus({
    url: testEnv().natsUrl,
    name: 'logs-it',
    topology: isolatedTopology(uniqueTag()),
  });
  streams = new ProjectLogStreams(bus, { maxAgeMs: 3_600_000, maxBytes: 64 * 1024 }, silentLogger);
  logs = new BusJobLogs(bus, streams);
});

afterAll(async () => {
  if (bus === undefined) return;
  await deleteStreams(bus);
  await bus.close();
});

async function read(project: string, jobId: string): Promise<string[]> {
  const lines: string[] = [];
  const signal = new AbortController().signal;
  for await (const chunk of logs.read(project, jobId, { follow: false, signal })) {
    lines.push(...chunk.lines.map((l) => l.l));
  }
  return lines;
}

/** A job's output as a node publishes it: one chunk with the end marker. */
async function publish(project: string, jobId: string, lines: string[]): Promise<void> {
  const chunk: LogChunk = {
    jobId,
    attempt: 1,
    lines: lines.map((l) => ({ t: new Date().toISOString(), s: 'out', l })),
    end: { status: 'succeeded' },
  };
  await bus.js.publish(subjects.output(bus.topology, project, jobId), encodeJson(chunk));
}

describe('projects’ logs streams', () => {
  it('makes a project’s stream with the retention, and reads a job’s output from it', async () => {
    await streams.ensure('quiet');
    await publish('quiet', 'job-q', ['hello', 'world']);
    expect(await read('quiet', 'job-q')).toEqual(['hello', 'world']);
    const info = await bus.jsm.streams.info(logStreamName(bus.topology, 'quiet'));
    expect(info.config.subjects).toEqual([subjects.projectOutput(bus.topology, 'quiet')]);
    expect(info.config.max_bytes).toBe(64 * 1024);
  });

  it('one project’s flood evicts its own oldest output, never another project’s', async () => {
    await publish('quiet', 'job-q2', ['still here']);
    // 40 chunks of about 5 KB: three times the project's 64 KiB.
    await streams.ensureEvery(['noisy']);
    for (let i = 0; i < 40; i++) {
      await publish('noisy', `job-n${i}`, [`${i} ${'x'.repeat(5_000)}`]);
    }
    expect(await read('quiet', 'job-q')).toEqual(['hello', 'world']);
    expect(await read('quiet', 'job-q2')).toEqual(['still here']);
    expect(await read('noisy', 'job-n0')).toEqual([]);
    expect((await read('noisy', 'job-n39'))[0]).toMatch(/^39 x+$/);
  });

  it('brings an existing stream to a changed retention', async () => {
    await ensureLogStream(bus, 'quiet', { maxAgeMs: 7_200_000, maxBytes: 128 * 1024 });
    const info = await bus.jsm.streams.info(logStreamName(bus.topology, 'quiet'));
    expect(info.config.max_bytes).toBe(128 * 1024);
    expect(await read('quiet', 'job-q')).toEqual(['hello', 'world']);
  });

  it('reads a job of an earlier release from the shared stream of then', async () => {
    await bus.jsm.streams.add({
      name: bus.topology.streams.logs,
      subjects: [`${bus.topology.prefix}.log.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      allow_direct: true,
    });
    const chunk: LogChunk = {
      jobId: 'job-old',
      attempt: 1,
      lines: [{ t: new Date().toISOString(), s: 'out', l: 'from before' }],
      end: { status: 'succeeded' },
    };
    await bus.js.publish(subjects.legacyLog(bus.topology, 'quiet', 'job-old'), encodeJson(chunk));
    // A gateway that starts now finds it (this one asked a moment ago: none then, for a minute).
    logs = new BusJobLogs(bus, new ProjectLogStreams(bus, streams.retention, silentLogger));
    expect(await read('quiet', 'job-old')).toEqual(['from before']);
  });

  it('answers nothing for a job of a project with no stream yet', async () => {
    expect(await read('newcomer', 'job-none')).toEqual([]);
  });
});
