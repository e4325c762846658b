import { describe, expect, it } from '@jest/globals';
import { SseParser } from './sse.js';

describe('reading Server-Sent Events', () => {
  it('gives each event once its blank line arrives, with its id, type and data', () => {
    const parser = new SseParser();
    expect(parser.push(': heartbeat\n\nid: 41\nevent: job.succeeded\nda')).toEqual([]);
    expect(parser.push('ta: {"type":"job.succeeded"}\n\nid: 42\n')).toEqual([
      { id: '41', event: 'job.succeeded', data: '{"type":"job.succeeded"}' },
    ]);
    expect(parser.push('event: run.failed\r\ndata: a\r\ndata: b\r\n\r\n')).toEqual([
      { id: '42', event: 'run.failed', data: 'a\nb' },
    ]);
  });

  it('ignores comments and unknown fields, and an event without data', () => {
    const parser = new SseParser();
    expect(parser.push(': heartbeat\nretry: 1000\nevent: x\n\ndata:plain\n\n')).toEqual([
      { id: null, event: 'message', data: 'plain' },
    ]);
  });
});
