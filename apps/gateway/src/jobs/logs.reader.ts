import { DeliverPolicy } from '@nats-io/jetstream';
import { LogChunkSchema, subjects, type LogChunk } from '@acai/contracts';
import { decodeJson, type Bus } from '@acai/eventing';

/** A job's output, as the gateway reads it. */
export abstract class JobLogs {
  /** What is there now, and with `follow` everything that arrives until the job's end marker. */
  abstract read(
    project: string,
    jobId: string,
    options: { follow: boolean; signal: AbortSignal },
  ): AsyncGenerator<LogChunk>;
}

/** A job's output on the logs stream (`<prefix>.log.<project>.<jobId>`). */
export class BusJobLogs implements JobLogs {
  constructor(private readonly bus: Bus) {}

  read(
    project: string,
    jobId: string,
    options: { follow: boolean; signal: AbortSignal },
  ): AsyncGenerator<LogChunk> {
    return readLogs(this.bus, project, jobId, options);
  }
}

/**
 * Reads a job's output from the logs stream: what is there now, and with `follow` everything that
 * arrives until the job's end marker.
 */
async function* readLogs(
  bus: Bus,
  project: string,
  jobId: string,
  options: { follow: boolean; signal: AbortSignal },
): AsyncGenerator<LogChunk> {
  const stream = bus.topology.streams.logs;
  const subject = subjects.log(bus.topology, project, jobId);
  let seq = 1;
  for (;;) {
    const msg = await bus.jsm.direct.getMessage(stream, { seq, next_by_subj: subject });
    if (msg === null) break;
    seq = msg.seq + 1;
    const chunk = LogChunkSchema.parse(decodeJson(msg.data));
    yield chunk;
    if (chunk.end !== undefined && options.follow) return;
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
