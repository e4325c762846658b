/** One Server-Sent Event, as the framing carries it (https://html.spec.whatwg.org/#server-sent-events). */
export interface SseMessage {
  /** The last `id:` seen (it carries over to later events that have none), or '' when none. */
  readonly id: string;
  /** `event:`, or `message` when the event named none. */
  readonly event: string;
  /** The `data:` lines, joined by newlines. */
  readonly data: string;
  /** `retry:` when this event set it: the reconnection delay the server asks for, in ms. */
  readonly retry?: number;
}

/**
 * An incremental SSE parser: feed it text as it arrives, in chunks cut anywhere (a line, even a
 * CRLF, may span two chunks); it returns the events each chunk completed. Comment lines (`: …`,
 * the heartbeats) are counted in `comments`, never returned.
 */
export class SseParser {
  private buffer = '';
  /** A chunk ended on '\r': a '\n' at the start of the next one belongs to it. */
  private pendingCr = false;
  private lastId = '';
  private event = '';
  private data: string[] = [];
  private retry: number | undefined;
  comments = 0;

  feed(chunk: string): SseMessage[] {
    let text = chunk;
    if (this.pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.pendingCr = false;
    this.buffer += text;
    const out: SseMessage[] = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const c = this.buffer.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      const line = this.buffer.slice(start, i);
      if (c === 13) {
        if (i + 1 === this.buffer.length) this.pendingCr = true;
        else if (this.buffer.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
      const message = this.line(line);
      if (message !== undefined) out.push(message);
    }
    this.buffer = this.buffer.slice(start);
    return out;
  }

  /** The id of the last event seen: what `Last-Event-ID` resumes from. */
  get lastEventId(): string {
    return this.lastId;
  }

  private line(line: string): SseMessage | undefined {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) {
      this.comments++;
      return undefined;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.event = value;
        break;
      case 'data':
        this.data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) this.lastId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
      default:
        // Unknown fields are ignored, as the standard says.
        break;
    }
    return undefined;
  }

  private dispatch(): SseMessage | undefined {
    const hasData = this.data.length > 0;
    const message: SseMessage = {
      id: this.lastId,
      event: this.event === '' ? 'message' : this.event,
      data: this.data.join('\n'),
      ...(this.retry === undefined ? {} : { retry: this.retry }),
    };
    this.event = '';
    this.data = [];
    this.retry = undefined;
    // An event with no data is not dispatched (the standard).
    return hasData ? message : undefined;
  }
}

/** The events of an SSE body, as they arrive. */
export async function* readSse(
  body: AsyncIterable<Uint8Array>,
  parser: SseParser = new SseParser(),
): AsyncGenerator<SseMessage> {
  const decoder = new TextDecoder();
  for await (const chunk of body) {
    yield* parser.feed(decoder.decode(chunk, { stream: true }));
  }
  yield* parser.feed(decoder.decode());
}
