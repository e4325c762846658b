import { JetStreamApiError } from '@nats-io/jetstream';
import {
  ClosedConnectionError,
  ConnectionError,
  DrainingConnectionError,
  NoRespondersError,
  RequestError,
  TimeoutError,
} from '@nats-io/nats-core';
import { AcaiError, CommonProblems, ErrorCode } from '@acai/contracts';
import { NonRetryableError, WrongExpectedVersionError } from './errors.js';

/**
 * What a consumer does after a handler failed, by what the failure says about the message:
 *
 * - `unavailable`: a dependency is down or did not answer (a service, NATS, Postgres, a store).
 *   Nothing is wrong with the message: it waits, with backoff, for as long as it takes, and the
 *   wait is not an attempt.
 * - `conflict`: a race was lost (another writer changed the aggregate, Postgres chose this
 *   transaction as a deadlock's victim). Tried again at once with a fresh state, not counted: a
 *   lost race says nothing about the message, and counting it would dead-letter the events of
 *   busy aggregates under load.
 * - `failure`: anything else retryable (an unexpected error). An attempt: after the consumer's
 *   `maxDeliver` of them the message is poison and goes to dead letters.
 * - `final`: it will fail the same way every time (a problem declared not retryable, a message that
 *   cannot be decoded): dead letters at once.
 */
export type FailureKind = 'unavailable' | 'conflict' | 'failure' | 'final';

/** Failures retried without counting as attempts. */
export type TransientKind = Extract<FailureKind, 'unavailable' | 'conflict'>;

export function isTransient(kind: FailureKind): kind is TransientKind {
  return kind === 'unavailable' || kind === 'conflict';
}

/** System errors of a connection that did not happen or broke (Node, undici, pg). */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

/**
 * Postgres SQLSTATE classes of a server that cannot serve now, whatever the statement: 08
 * connection exception, 53 insufficient resources (disk full, out of memory, too many
 * connections), 57 operator intervention (shutting down, starting up, a statement cancelled or
 * timed out), 58 system error (I/O).
 */
const POSTGRES_UNAVAILABLE_CLASSES = new Set(['08', '53', '57', '58']);
/** 25006 read_only_sql_transaction: the primary failed over and this connection has a replica. */
const POSTGRES_UNAVAILABLE = new Set(['25006']);
/** 40001 serialization_failure, 40P01 deadlock_detected: a race the transaction lost. */
const POSTGRES_CONFLICT = new Set(['40001', '40P01']);

/** What node-postgres and its pool say when the connection is gone or never came. */
const CONNECTION_MESSAGES = [
  /^Connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /Client has encountered a connection error and is not queryable/i,
  /Connection ended unexpectedly/i,
  /Client was closed and is not queryable/i,
  /the database system is (starting up|shutting down|in recovery mode)/i,
];

/**
 * TypeORM's errors for a query runner (or the connection it was given) released under a
 * transaction, which it does when the connection emitted an error: both seen in chaos with
 * Postgres SIGKILLed (the first from the rollback, the second from the next query).
 */
const RELEASED_RUNNER_ERRORS = new Set([
  'QueryRunnerAlreadyReleasedError',
  'QueryRunnerProviderAlreadyReleasedError',
]);

/** HTTP statuses of a dependency that is there but cannot serve now (an S3 503, a proxy's 502). */
const UNAVAILABLE_STATUSES = new Set([502, 503, 504]);

/**
 * Which kind of failure `error` is (see {@link FailureKind}), looking through its causes (an error
 * that wraps a refused connection is about the connection).
 */
export function classifyFailure(error: unknown): FailureKind {
  if (error instanceof NonRetryableError) return 'final';
  if (error instanceof AcaiError) return classifyProblem(error);
  for (const e of causes(error)) {
    const kind = classifyCause(e);
    if (kind !== undefined) return kind;
  }
  return 'failure';
}

function classifyProblem(error: AcaiError): FailureKind {
  if (!error.retryable) return 'final';
  if (error instanceof WrongExpectedVersionError || error.is(CommonProblems.CONCURRENT_CHANGE)) {
    return 'conflict';
  }
  // A service down, or one that did not answer in time (SERVICE_UNAVAILABLE, SERVICE_TIMEOUT, or a
  // module's own, such as CATALOG_BEHIND): an outage, not a fault of the message.
  if (error.code === ErrorCode.Unavailable || error.code === ErrorCode.RateLimited) {
    return 'unavailable';
  }
  // Anything else retryable (INTERNAL: the other service failed unexpectedly) is an attempt,
  // unless it only relays a connection failure of its own.
  for (const e of causes(error.cause)) {
    const kind = classifyCause(e);
    if (kind !== undefined) return kind;
  }
  return 'failure';
}

function classifyCause(e: object): FailureKind | undefined {
  if (
    e instanceof TimeoutError ||
    e instanceof NoRespondersError ||
    e instanceof ConnectionError ||
    e instanceof ClosedConnectionError ||
    e instanceof DrainingConnectionError ||
    e instanceof RequestError
  ) {
    return 'unavailable';
  }
  // JetStream has no quorum, or is catching up ("JetStream system temporarily unavailable").
  if (e instanceof JetStreamApiError && UNAVAILABLE_STATUSES.has(e.status)) return 'unavailable';
  if (e instanceof AcaiError) return e.retryable ? classifyProblem(e) : 'final';
  const code = stringField(e, 'code');
  if (code !== undefined) {
    if (CONNECTION_CODES.has(code)) return 'unavailable';
    if (/^[0-9A-Z]{5}$/.test(code)) {
      if (POSTGRES_UNAVAILABLE_CLASSES.has(code.slice(0, 2)) || POSTGRES_UNAVAILABLE.has(code)) {
        return 'unavailable';
      }
      if (POSTGRES_CONFLICT.has(code)) return 'conflict';
    }
  }
  // TypeORM releases a query runner whose connection failed; what the transaction asks of it
  // next (a query, its rollback) says so, hiding the connection's own error.
  if (e instanceof Error && RELEASED_RUNNER_ERRORS.has(e.name)) return 'unavailable';
  const status = httpStatus(e);
  if (status !== undefined && UNAVAILABLE_STATUSES.has(status)) return 'unavailable';
  const message = stringField(e, 'message');
  if (message !== undefined && CONNECTION_MESSAGES.some((m) => m.test(message))) {
    return 'unavailable';
  }
  return undefined;
}

/** The error and its causes: `cause`, TypeORM's `driverError`, an AggregateError's errors. */
function causes(error: unknown): object[] {
  const out: object[] = [];
  const queue: unknown[] = [error];
  while (queue.length > 0 && out.length < 16) {
    const e = queue.shift();
    if (typeof e !== 'object' || e === null || out.includes(e)) continue;
    out.push(e);
    if ('cause' in e) queue.push(e.cause);
    if ('driverError' in e) queue.push(e.driverError);
    if (e instanceof AggregateError) queue.push(...(e.errors as unknown[]));
  }
  return out;
}

function stringField(e: object, field: string): string | undefined {
  const value: unknown = (e as Record<string, unknown>)[field];
  return typeof value === 'string' ? value : undefined;
}

/** An HTTP status on an error: the AWS SDK's `$metadata.httpStatusCode`, or `statusCode`/`status`. */
function httpStatus(e: object): number | undefined {
  const record = e as Record<string, unknown>;
  const metadata = record['$metadata'];
  if (typeof metadata === 'object' && metadata !== null) {
    const code = (metadata as Record<string, unknown>)['httpStatusCode'];
    if (typeof code === 'number') return code;
  }
  for (const field of ['statusCode', 'status']) {
    if (typeof record[field] === 'number') return record[field];
  }
  return undefined;
}
