import { DeliverPolicy } from '@nats-io/jetstream';
import { LogChunkSchema, logStreamName, subjects, type LogChunk } from '@acai/contracts';
import { decodeJson, isMissing, type Bus } from '@acai/eventing';
import type { ProjectLogStreams } from './log-streams.js';

/** A job's output, as the gateway reads it. */
export abstract class JobLogs {
  /** What is there now, and with `follow` everything that arrives until the job's end marker. */
  abstract read(
    project: string,
    jobId: string,
    options: { follow: boolean; signal: AbortSignal },
  ): AsyncGenerator<LogChunk>;
}

/** A job's output on its project's logs stream (`<prefix>.out.<project>.<jobId>`). */
export class BusJobLogs implements JobLogs {
  constructor(
    private readonly bus: Bus,
    private readonly streams: ProjectLogStreams,
  ) {}

  read(
    project: string,
    jobId: string,
    options: { follow: boolean; signal: AbortSignal },
  ): AsyncGenerator<LogChunk> {
    return readLogs(this.bus, this.streams, project, jobId, options);
  }
}

/**
 * Reads a job's output: what is there now, and with `follow` everything that arrives until the job's
 * end marker. Output is on the project's logs stream; a job that ran before projects had streams of
 * their own has it on the shared stream of then, read when the project's has none of it.
 */
async function* readLogs(
  bus: Bus,
  streams: ProjectLogStreams,
  project: string,
  jobId: string,
  options: { follow: boolean; signal: AbortSignal },
): AsyncGenerator<LogChunk> {
  const stream = logStreamName(bus.topology, project);
  const subject = subjects.output(bus.topology, project, jobId);
  // Its stream exists (a read from one that does not would wait for a timeout): the job is the
  // project's, so its stream is due anyway.
  await streams.ensure(project);
  let seq = 1;
  let found = false;
  for await (const { chunk, next } of stored(bus, stream, subject)) {
    found = true;
    seq = next;
    yield chunk;
    if (chunk.end !== undefined && options.follow) return;
  }
  if (!found && (await streams.hasLegacyStream())) {
    const legacy = subjects.legacyLog(bus.topology, project, jobId);
    for await (const { chunk } of stored(bus, bus.topology.streams.logs, legacy)) {
      yield chunk;
      if (chunk.end !== undefined && options.follow) return;
    }
  }
  if (!options.follow || options.signal.aborted) return;
  const consumer = await bus.js.consumers.get(stream, {
    filter_subjects: subject,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: seq,
  });
  const messages = await consumer.consume();
  const abort = () => messages.stop();
  options.signal.addEventListener('abort', abort, { once: true });
  try {
    for await (const msg of messages) {
      const chunk = LogChunkSchema.parse(decodeJson(msg.data));
      yield chunk;
      if (chunk.end !== undefined) return;
    }
  } finally {
    options.signal.removeEventListener('abort', abort);
    messages.stop();
  }
}

/** The chunks a stream holds now on `subject`, with the sequence after each; none if no stream. */
async function* stored(
  bus: Bus,
  stream: string,
  subject: string,
): AsyncGenerator<{ chunk: LogChunk; next: number }> {
  let seq = 1;
  for (;;) {
    let msg;
    try {
      msg = await bus.jsm.direct.getMessage(stream, { seq, next_by_subj: subject });
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    if (msg === null) return;
    seq = msg.seq + 1;
    yield { chunk: LogChunkSchema.parse(decodeJson(msg.data)), next: seq };
  }
}
