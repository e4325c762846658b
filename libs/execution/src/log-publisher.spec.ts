import { describe, expect, it } from '@jest/globals';
import { isolatedTopology, type LogChunk } from '@acai/contracts';
import type { Bus } from '@acai/eventing';
import { LogPublisher } from './log-publisher.js';

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
