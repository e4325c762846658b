/** One Server-Sent Event of `GET /api/v1/events`, its data parsed. */
export interface SseEvent {
  readonly id: number;
  readonly event: string;
  readonly data: Record<string, unknown> & { type: string; project: string };
}

/**
 * A reader of an event stream as a browser without EventSource reads it: fetch, then the body's
 * reader, with the SSE framing parsed here. Comments (`: heartbeat`) are counted, not returned.
 */
export class SseStream {
  heartbeats = 0;
  private buffer = '';
  private readonly queue: SseEvent[] = [];
  private readonly decoder = new TextDecoder();

  private reader: ReadableStreamDefaultReader<Uint8Array> | undefined;

  private constructor(readonly response: Response) {}

  /** Opens the stream; resolves when its headers arrive (or with the error answer). */
  static async open(
    baseUrl: string,
    query: string,
    key: string,
    headers: Record<string, string> = {},
  ): Promise<SseStream> {
    const response = await fetch(`${baseUrl}/api/v1/events${query}`, {
      headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream', ...headers },
    });
    return new SseStream(response);
  }

  /** The next event; waits for it. Null when the stream ended. */
  async next(): Promise<SseEvent | null> {
    while (this.queue.length === 0) {
      const { done, value } = await this.read();
      if (done) return null;
      this.buffer += this.decoder.decode(value, { stream: true });
      this.parse();
    }
    return this.queue.shift()!;
  }

  /** Reads events until one passes `last` (included); returns them all. */
  async until(last: (event: SseEvent) => boolean): Promise<SseEvent[]> {
    const events: SseEvent[] = [];
    for (;;) {
      const event = await this.next();
      if (event === null) throw new Error(`the stream ended after ${events.length} events`);
      events.push(event);
      if (last(event)) return events;
    }
  }

  /** Reads until `count` heartbeats were seen. */
  async heartbeatsSeen(count: number): Promise<void> {
    while (this.heartbeats < count) {
      const { done, value } = await this.read();
      if (done) throw new Error('the stream ended');
      this.buffer += this.decoder.decode(value, { stream: true });
      this.parse();
    }
  }

  /** Drops the connection, as a client that goes away does. */
  async close(): Promise<void> {
    if (this.reader !== undefined) await this.reader.cancel().catch(() => undefined);
    else if (!this.response.bodyUsed) await this.response.body?.cancel().catch(() => undefined);
  }

  private read(): ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']> {
    this.reader ??= this.response.body!.getReader();
    return this.reader.read();
  }

  private parse(): void {
    for (let end = this.buffer.indexOf('\n\n'); end >= 0; end = this.buffer.indexOf('\n\n')) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const fields = new Map<string, string>();
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) {
          if (line.trim() === ': heartbeat') this.heartbeats++;
          continue;
        }
        const colon = line.indexOf(':');
        fields.set(line.slice(0, colon), line.slice(colon + 1).replace(/^ /, ''));
      }
      if (!fields.has('data')) continue;
      this.queue.push({
        id: Number(fields.get('id')),
        event: fields.get('event') ?? 'message',
        data: JSON.parse(fields.get('data')!) as SseEvent['data'],
      });
    }
  }
}
