import { describe, expect, it } from '@jest/globals';
import { readSse, SseParser } from './sse.js';

describe('SseParser', () => {
  it('reads id, event and data, and skips heartbeat comments', () => {
    const parser = new SseParser();
    const out = parser.feed(
      ': heartbeat\n\nid: 7\nevent: job.succeeded\ndata: {"a":1}\n\n: heartbeat\n',
    );
    expect(out).toEqual([{ id: '7', event: 'job.succeeded', data: '{"a":1}' }]);
    expect(parser.comments).toBe(2);
    expect(parser.lastEventId).toBe('7');
  });

  it('completes an event whose lines are cut anywhere across chunks, CRLF included', () => {
    const text = 'id: 1\r\nevent: run.failed\r\ndata: x\r\n\r\nid: 2\rdata: y\r\rdata: z\n\n';
    for (let cut = 0; cut <= text.length; cut++) {
      const parser = new SseParser();
      const out = [...parser.feed(text.slice(0, cut)), ...parser.feed(text.slice(cut))];
      expect(out).toEqual([
        { id: '1', event: 'run.failed', data: 'x' },
        { id: '2', event: 'message', data: 'y' },
        { id: '2', event: 'message', data: 'z' },
      ]);
    }
  });

  it('joins data lines, reads retry, ignores unknown fields and events without data', () => {
    const parser = new SseParser();
    const out = parser.feed('retry: 250\nfoo: bar\ndata\ndata:  two\n\nevent: empty\n\n');
    expect(out).toEqual([{ id: '', event: 'message', data: '\n two', retry: 250 }]);
  });

  it('reads a byte stream whose multi-byte characters are split between chunks', async () => {
    const bytes = new TextEncoder().encode('id: 3\ndata: "é…"\n\n');
    async function* chunks() {
      for (const b of bytes) yield new Uint8Array([b]);
    }
    const out = [];
    for await (const m of readSse(chunks())) out.push(m);
    expect(out).toEqual([{ id: '3', event: 'message', data: '"é…"' }]);
  });
});
