import { describe, expect, it } from '@jest/globals';
import { isolatedTopology, type LogChunk } from '@acai/contracts';
import type { Bus } from '@acai/eventing';
import { LogPublisher, sharedEnsure } from './log-publisher.js';

/** A bus that keeps what is published to the logs stream. */
function recordingBus(): { bus: Bus; chunks: LogChunk[] } {
  const chunks: LogChunk[] = [];
  const bus = {
    topology: isolatedTopology('logs'),
    js: {
      publish: (_subject: string, data: Uint8Array) => {
        chunks.push(JSON.parse(new TextDecoder().decode(data)) as LogChunk);
        return Promise.resolve({ seq: chunks.length });
      },
    },
  } as unknown as Bus;
  return { bus, chunks };
}

describe('LogPublisher', () => {
  it('sends every line, then the end marker', async () => {
    const { bus, chunks } = recordingBus();
    const logs = new LogPublisher(bus, 'p1', 'job-1', 1);
    logs.line('out', 'hello');
    logs.line('err', 'warning');
    await logs.end('succeeded');
    const lines = chunks.flatMap((c) => c.lines);
    expect(lines.map((l) => [l.s, l.l])).toEqual([
      ['out', 'hello'],
      ['err', 'warning'],
    ]);
    expect(chunks.at(-1)?.end).toEqual({ status: 'succeeded' });
  });

  it('cuts an attempt’s output past its cap with one line saying so, and keeps its last lines', async () => {
    const { bus, chunks } = recordingBus();
    // Each line is 10 bytes with its newline: the cap lets three through.
    const logs = new LogPublisher(bus, 'p1', 'job-1', 1, { maxBytes: 35 });
    for (let i = 0; i < 1_000; i++) logs.line('out', `line ${String(i).padStart(4, '0')}`);
    await logs.end('failed');
    const lines = chunks.flatMap((c) => c.lines.map((l) => l.l));
    expect(lines).toEqual([
      'line 0000',
      'line 0001',
      'line 0002',
      'acai: output truncated: this attempt printed more than 35 bytes (ACAI_MAX_LOG_BYTES); the rest is not kept',
    ]);
    expect(chunks.flatMap((c) => c.lines).at(-1)?.s).toBe('err');
    // The failure message still shows how the job really ended.
    expect(logs.lastLines().at(-1)).toBe('line 0999');
    expect(chunks.at(-1)?.end).toEqual({ status: 'failed' });
  });

  it('keeps at most 8 KiB of last lines for the failure, and sends big output in messages a bus takes', async () => {
    const { bus, chunks } = recordingBus();
    const logs = new LogPublisher(bus, 'p1', 'job-1', 1);
    const piece = 'x'.repeat(16 * 1024);
    for (let i = 0; i < 100; i++) logs.line('out', piece);
    await logs.end('failed');
    const tail = logs.lastLines();
    expect(tail.join('').length).toBeLessThanOrEqual(8 * 1024);
    expect(tail.at(-1)).toMatch(/^…x+$/);
    // 1.6 MB of output, in chunks of at most about 256 KiB each.
    expect(chunks.flatMap((c) => c.lines)).toHaveLength(100);
    for (const chunk of chunks) expect(JSON.stringify(chunk).length).toBeLessThan(400 * 1024);
  });
});

/** A bus whose publishes fail while `down` is true, as JetStream fails them (no stream, timeout). */
function flakyBus(state: { down: boolean; noStream: boolean }): {
  bus: Bus;
  chunks: { id: string | undefined; chunk: LogChunk }[];
  tries: number[];
} {
  const chunks: { id: string | undefined; chunk: LogChunk }[] = [];
  const tries: number[] = [];
  const bus = {
    topology: isolatedTopology('logs'),
    js: {
      publish: (_subject: string, data: Uint8Array, options?: { msgID?: string }) => {
        tries.push(Date.now());
        if (state.noStream) {
          const error = new Error('jetstream is not enabled');
          error.name = 'JetStreamNotEnabled';
          return Promise.reject(error);
        }
        if (state.down) return Promise.reject(new Error('TIMEOUT'));
        chunks.push({
          id: options?.msgID,
          chunk: JSON.parse(new TextDecoder().decode(data)) as LogChunk,
        });
        return Promise.resolve({ seq: chunks.length });
      },
    },
  } as unknown as Bus;
  return { bus, chunks, tries };
}

describe('LogPublisher while the bus is away', () => {
  it('keeps the output in order and sends it when the bus is back, each chunk with its own id', async () => {
    const state = { down: true, noStream: false };
    const { bus, chunks } = flakyBus(state);
    const logs = new LogPublisher(bus, 'p1', 'job-1', 2, { retryMs: 5 });
    for (let i = 0; i < 300; i++) logs.line('out', `line ${i}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(chunks).toHaveLength(0);
    state.down = false;
    await logs.end('succeeded');
    expect(chunks.flatMap((c) => c.chunk.lines.map((l) => l.l))).toEqual(
      Array.from({ length: 300 }, (_, i) => `line ${i}`),
    );
    expect(chunks.at(-1)!.chunk.end).toEqual({ status: 'succeeded' });
    const ids = chunks.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids[0]).toBe('job-1.2.1');
    expect(logs.linesLost).toBe(0);
  });

  it('keeps a bounded amount and says how many lines it lost', async () => {
    const state = { down: true, noStream: false };
    const { bus, chunks } = flakyBus(state);
    const logs = new LogPublisher(bus, 'p1', 'job-1', 1, { retryMs: 5, maxPendingBytes: 2_000 });
    // 256 lines make a chunk well over 2,000 bytes: the first is kept, the next three are not.
    for (let i = 0; i < 4 * 256; i++) logs.line('out', `line ${i}`);
    state.down = false;
    logs.line('out', 'after');
    await logs.end('failed');
    const lines = chunks.flatMap((c) => c.chunk.lines.map((l) => l.l));
    expect(lines.slice(0, 256)).toEqual(Array.from({ length: 256 }, (_, i) => `line ${i}`));
    expect(lines).toContain(
      'acai: 768 lines of output were lost: the bus was unreachable and 2000 bytes were waiting',
    );
    expect(lines.at(-1)).toBe('after');
  });

  it('asks for the project’s stream when there is none, then sends', async () => {
    const state = { down: false, noStream: true };
    const { bus, chunks } = flakyBus(state);
    const asked: string[] = [];
    const logs = new LogPublisher(bus, 'p1', 'job-1', 1, {
      retryMs: 5,
      ensureStream: (project) => {
        asked.push(project);
        state.noStream = false;
        return Promise.resolve();
      },
    });
    logs.line('out', 'hello');
    await logs.end('succeeded');
    expect(asked).toEqual(['p1']);
    expect(chunks.flatMap((c) => c.chunk.lines.map((l) => l.l))).toEqual(['hello']);
  });

  it('gives the output up once the attempt has ended and the bus stays away past the grace', async () => {
    const state = { down: true, noStream: false };
    const { bus, chunks } = flakyBus(state);
    const logs = new LogPublisher(bus, 'p1', 'job-1', 1, { retryMs: 5, endGraceMs: 30 });
    logs.line('out', 'one');
    logs.line('out', 'two');
    await logs.end('failed');
    expect(chunks).toHaveLength(0);
    expect(logs.linesLost).toBe(2);
  });
});

describe('sharedEnsure', () => {
  it('asks once for concurrent callers of one project, and again after', async () => {
    let calls = 0;
    const ensure = sharedEnsure(async () => {
      calls += 1;
      await new Promise((resolve) => setTimeout(resolve, 5));
    });
    await Promise.all([ensure('a'), ensure('a'), ensure('a')]);
    expect(calls).toBe(1);
    await ensure('a');
    expect(calls).toBe(2);
  });
});
