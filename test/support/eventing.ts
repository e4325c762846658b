import type { DataSource } from 'typeorm';
import { isolatedTopology, type NewEvent } from '@acai/contracts';
import {
  connectBus,
  deleteStreams,
  ensureStreams,
  PostgresDeadLetters,
  type Bus,
  type EventingLogger,
} from '@acai/eventing';
import { openDatabase } from '@acai/platform';
import { testEnv, uniqueTag } from '@acai/testkit';

/**
 * One integration test file's own slice of the real servers: streams and a subject prefix no other
 * test uses, and (when asked) a Postgres schema with the eventing tables migrated. `close` removes
 * all of it.
 */
export interface EventingFixture {
  readonly tag: string;
  readonly bus: Bus;
  readonly close: () => Promise<void>;
}

export interface EventingDbFixture extends EventingFixture {
  readonly db: DataSource;
  readonly schema: string;
  readonly deadLetters: PostgresDeadLetters;
}

export async function openEventing(name: string): Promise<EventingFixture> {
  const tag = uniqueTag();
  const { natsUrl } = testEnv();
  const bus = await connectBus({ url: natsUrl, name, topology: isolatedTopology(tag) });
  try {
    await ensureStreams(bus);
  } catch (error) {
    await bus.close();
    throw error;
  }
  return {
    tag,
    bus,
    async close() {
      await deleteStreams(bus);
      await bus.close();
    },
  };
}

export async function openEventingWithDb(name: string): Promise<EventingDbFixture> {
  const base = await openEventing(name);
  const schema = `it_${base.tag}`;
  let db: DataSource;
  try {
    db = await openDatabase({ url: testEnv().databaseUrl, schema });
  } catch (error) {
    await base.close();
    throw error;
  }
  return {
    ...base,
    db,
    schema,
    deadLetters: new PostgresDeadLetters(db),
    async close() {
      try {
        await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await db.destroy();
        await base.close();
      }
    },
  };
}

/** A valid catalogue event that says which test step made it. */
export function cancelled(reason: string): NewEvent {
  return { type: 'job.cancelled', data: { reason } };
}

/** A valid `job.queued` event. */
export function queued(name: string): NewEvent {
  return {
    type: 'job.queued',
    data: {
      runId: 'run-1',
      name,
      command: ['python', 'train.py'],
      env: {},
      resources: { cpu: 1, memoryMb: 512 },
    },
  };
}

/** A logger that keeps what it is told, so a test can wait for a failure to have happened. */
export interface RecordingLogger extends EventingLogger {
  readonly lines: { level: 'info' | 'warn' | 'error' | 'debug'; obj: object; msg?: string }[];
}

export function recordingLogger(): RecordingLogger {
  const lines: RecordingLogger['lines'] = [];
  return {
    lines,
    info: (obj, msg) => void lines.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => void lines.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => void lines.push({ level: 'error', obj, msg }),
    debug: (obj, msg) => void lines.push({ level: 'debug', obj, msg }),
  };
}

const encoder = new TextEncoder();

/** Bytes that are not an event at all. */
export const garbage = encoder.encode('\u0000this is not json{{');

/** A well-formed envelope for an event type and version no service knows. */
export function unknownEnvelope(subject: {
  project: string;
  aggregate: string;
  id: string;
}): Uint8Array {
  return encoder.encode(
    JSON.stringify({
      id: `unknown-${Math.random().toString(36).slice(2)}`,
      type: 'job.exploded',
      version: 9,
      project: subject.project,
      aggregate: subject.aggregate,
      aggregateId: subject.id,
      occurredAt: new Date().toISOString(),
      causationId: null,
      correlationId: null,
      data: { boom: true },
    }),
  );
}
