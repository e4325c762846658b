import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import {
  DiscardPolicy,
  jetstream,
  jetstreamManager,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type ConsumerUpdateConfig,
  type JetStreamClient,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { AcaiError, CommonProblems, logStreamName, subjects, type Topology } from '@acai/contracts';
import { isMissing } from './errors.js';

export interface BusOptions {
  readonly url: string;
  /** Shown in `nats server report connections`; the service name. */
  readonly name: string;
  readonly topology: Topology;
  /** The NATS user this service logs in as (none: an open server). */
  readonly credentials?: { readonly user: string; readonly password: string };
}

/** One NATS connection with its JetStream client and manager, and the topology it speaks. */
export interface Bus {
  /** The service this connection belongs to; spans it makes carry it as `acai.service`. */
  readonly name: string;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly topology: Topology;
  close(): Promise<void>;
}

export async function connectBus(options: BusOptions): Promise<Bus> {
  const nc = await connect({
    servers: options.url,
    name: options.name,
    ...(options.credentials === undefined
      ? {}
      : { user: options.credentials.user, pass: options.credentials.password }),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    // Every JetStream publish and direct get is a request; capturing a stack trace for each one
    // cost the scheduler a quarter of its CPU under load. Errors still say what failed.
    noAsyncTraces: true,
  });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  return {
    name: options.name,
    nc,
    js,
    jsm,
    topology: options.topology,
    async close() {
      if (!nc.isClosed()) await nc.drain();
    },
  };
}

/** Room kept in a message for its headers (trace context, type, message id). */
const HEADER_ROOM = 4 * 1024;

/**
 * Refuses a message the server would refuse (`max_payload`, 1 MiB by default) with an error that
 * says what was too large, by how much, and what to do, instead of the connection's error (or,
 * for a consumer, retrying forever).
 */
export function assertFits(bus: Bus, bytes: number, what: string, advice: string): void {
  const max = bus.nc.info?.max_payload;
  if (max === undefined || bytes + HEADER_ROOM <= max) return;
  throw new AcaiError(
    CommonProblems.MESSAGE_TOO_LARGE,
    `${what} is ${bytes} bytes; a message of the bus holds at most ${max - HEADER_ROOM} (nats-server max_payload ${max}, less room for headers): ${advice}`,
  );
}

export interface StreamOptions {
  /** Copies of each stream in a JetStream cluster (1 on a single server). */
  readonly replicas?: number;
}

export function streamConfigs(
  topology: Topology,
  limits: StreamOptions = {},
): (Partial<StreamConfig> & { name: string })[] {
  return [
    {
      name: topology.streams.events,
      subjects: [subjects.allEvents(topology)],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      duplicate_window: nanos(2 * 60_000),
      allow_direct: true,
      num_replicas: limits.replicas ?? 1,
      description: 'acai domain events, one subject per aggregate instance; kept',
    },
    {
      name: topology.streams.work,
      subjects: [subjects.allWork(topology)],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      duplicate_window: nanos(2 * 60_000),
      num_replicas: limits.replicas ?? 1,
      description: 'acai job assignments, pulled by executors',
    },
  ];
}

/** How long a project's job output is kept, and how much of it at most. */
export interface LogRetention {
  readonly maxAgeMs: number;
  /** Reserved on the server's store for the project: nats-server refuses a stream it cannot hold. */
  readonly maxBytes: number;
  readonly replicas?: number;
}

export const DEFAULT_LOG_RETENTION: LogRetention = {
  maxAgeMs: 7 * 24 * 3_600_000,
  maxBytes: 1024 * 1024 * 1024,
};

/**
 * The logs stream of one project (`<logs>_<project>`, subjects `<prefix>.out.<project>.*`): its own
 * limits, so that one project's output never evicts another's. The oldest lines go first.
 */
export function logStreamConfig(
  topology: Topology,
  project: string,
  retention: LogRetention,
): Partial<StreamConfig> & { name: string } {
  return {
    name: logStreamName(topology, project),
    subjects: [subjects.projectOutput(topology, project)],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(retention.maxAgeMs),
    max_bytes: retention.maxBytes,
    // A node retries a chunk whose acknowledgement it lost with the same id: kept once.
    duplicate_window: nanos(2 * 60_000),
    allow_direct: true,
    num_replicas: retention.replicas ?? 1,
    description: `acai job output of project ${project}`,
  };
}

/**
 * Creates a project's logs stream, or brings an existing one to `retention` (the operator changed
 * it). Safe to call concurrently and again.
 */
export async function ensureLogStream(
  bus: Bus,
  project: string,
  retention: LogRetention,
): Promise<void> {
  const config = logStreamConfig(bus.topology, project, retention);
  let existing: StreamConfig | undefined;
  try {
    existing = (await bus.jsm.streams.info(config.name)).config;
  } catch (error) {
    if (!isMissing(error)) throw error;
  }
  if (existing === undefined) {
    try {
      await bus.jsm.streams.add(config);
      return;
    } catch (addError) {
      if (!(addError instanceof JetStreamApiError) || !/already in use/i.test(addError.message))
        throw addError;
      existing = (await bus.jsm.streams.info(config.name)).config;
    }
  }
  if (existing.max_age !== config.max_age || existing.max_bytes !== config.max_bytes) {
    await bus.jsm.streams.update(config.name, {
      max_age: config.max_age,
      max_bytes: config.max_bytes,
    });
  }
}

/** Creates the streams when they are missing; safe to call from every service at start. */
export async function ensureStreams(bus: Bus, limits: StreamOptions = {}): Promise<void> {
  for (const config of streamConfigs(bus.topology, limits)) {
    const name = config.name;
    try {
      await bus.jsm.streams.info(name);
    } catch (error) {
      if (!isMissing(error)) throw error;
      try {
        await bus.jsm.streams.add(config);
      } catch (addError) {
        // Another service created it between our look and our add: that is what we wanted.
        if (!(addError instanceof JetStreamApiError) || !/already in use/i.test(addError.message))
          throw addError;
      }
    }
  }
}

/**
 * Creates a durable consumer unless it exists; safe for replicas starting together (the one that
 * loses the race finds it made). An existing consumer is left as it is, but for the fields named in
 * `keepCurrent`, which are brought to `config` (JetStream lets them change): how a deployment made
 * by an earlier release gets a setting this one needs.
 */
export async function ensureDurableConsumer(
  bus: Bus,
  stream: string,
  config: Partial<ConsumerConfig> & { durable_name: string },
  keepCurrent: readonly (keyof ConsumerUpdateConfig & keyof ConsumerConfig)[] = [],
): Promise<void> {
  let existing: ConsumerConfig;
  try {
    existing = (await bus.jsm.consumers.info(stream, config.durable_name)).config;
  } catch (error) {
    if (!isMissing(error)) throw error;
    try {
      await bus.jsm.consumers.add(stream, config);
      return;
    } catch (addError) {
      if (
        !(addError instanceof JetStreamApiError) ||
        !/already (exists|in use)/i.test(addError.message)
      ) {
        throw addError;
      }
      existing = (await bus.jsm.consumers.info(stream, config.durable_name)).config;
    }
  }
  const changes: Partial<ConsumerUpdateConfig> = {};
  for (const field of keepCurrent) {
    if (config[field] !== undefined && existing[field] !== config[field]) {
      Object.assign(changes, { [field]: config[field] });
    }
  }
  if (Object.keys(changes).length > 0) {
    await bus.jsm.consumers.update(stream, config.durable_name, changes);
  }
}

/** Deletes the topology's streams, every project's logs stream included (tests and benchmarks). */
export async function deleteStreams(bus: Bus): Promise<void> {
  const names = new Set<string>(Object.values(bus.topology.streams));
  for await (const name of bus.jsm.streams.names()) {
    if (name.startsWith(`${bus.topology.streams.logs}_`)) names.add(name);
  }
  for (const name of names) {
    try {
      await bus.jsm.streams.delete(name);
    } catch {
      // Already gone.
    }
  }
}
