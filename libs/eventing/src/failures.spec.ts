import { describe, expect, it } from '@jest/globals';
import { JetStreamApiError } from '@nats-io/jetstream';
import {
  ClosedConnectionError,
  ConnectionError,
  NoRespondersError,
  RequestError,
  TimeoutError,
} from '@nats-io/nats-core';
import {
  QueryFailedError,
  QueryRunnerAlreadyReleasedError,
  QueryRunnerProviderAlreadyReleasedError,
} from 'typeorm';
import {
  AcaiError,
  CommonProblems,
  FilesetProblems,
  ProvisioningProblems,
  RunProblems,
} from '@acai/contracts';
import { NonRetryableError, WrongExpectedVersionError } from './errors.js';
import { classifyFailure, isTransient } from './failures.js';

/** An error as Node's net, pg or undici make it: a message and a `code`. */
function systemError(code: string, message = `connect ${code} 127.0.0.1:5432`): Error {
  return Object.assign(new Error(message), { code });
}

/** A Postgres error as TypeORM throws it: QueryFailedError around pg's, SQLSTATE in `code`. */
function postgresError(sqlstate: string, message = 'terminating connection'): QueryFailedError {
  return new QueryFailedError(
    'SELECT 1',
    [],
    Object.assign(new Error(message), { code: sqlstate }),
  );
}

describe('classifyFailure', () => {
  it.each([
    ['a service not running', new AcaiError(CommonProblems.SERVICE_UNAVAILABLE, 'no catalog')],
    ['a service that did not answer', new AcaiError(CommonProblems.SERVICE_TIMEOUT, 'slow')],
    ['a module’s own outage', new AcaiError(FilesetProblems.CATALOG_BEHIND, 'behind')],
    ['AWS out of capacity', new AcaiError(ProvisioningProblems.EC2_NO_CAPACITY, 'none')],
    ['a NATS request timing out', new TimeoutError()],
    ['nobody answering a NATS request', new NoRespondersError('acai.cmd.catalog.get_version')],
    ['a NATS connection error', new ConnectionError('connection refused')],
    ['a closed NATS connection', new ClosedConnectionError()],
    ['a NATS request error', new RequestError('request failed')],
    [
      'JetStream without quorum',
      new JetStreamApiError({
        code: 503,
        err_code: 10008,
        description: 'JetStream system temporarily unavailable',
      }),
    ],
    ['Postgres refusing connections', systemError('ECONNREFUSED')],
    ['a connection reset', systemError('ECONNRESET', 'read ECONNRESET')],
    ['a DNS name not resolving yet', systemError('EAI_AGAIN', 'getaddrinfo EAI_AGAIN db')],
    ['Postgres shutting down (57P01)', postgresError('57P01')],
    ['Postgres starting up (57P03)', postgresError('57P03', 'the database system is starting up')],
    ['Postgres out of connections (53300)', postgresError('53300', 'too many clients')],
    ['a connection exception (class 08)', postgresError('08006', 'connection failure')],
    ['Postgres out of disk (53100)', postgresError('53100', 'could not extend file')],
    ['a statement timeout (57014)', postgresError('57014', 'canceling statement due to timeout')],
    ['a failover to a read-only replica (25006)', postgresError('25006', 'read-only transaction')],
    ['pg’s pool losing its connection', new Error('Connection terminated unexpectedly')],
    ['pg’s pool timing out', new Error('timeout exceeded when trying to connect')],
    [
      'TypeORM’s query runner released when its connection failed (seen in chaos: Postgres SIGKILLed)',
      new QueryRunnerAlreadyReleasedError(),
    ],
    [
      'the connection TypeORM gave a query runner released under a query (seen in chaos: Postgres SIGKILLed)',
      new QueryRunnerProviderAlreadyReleasedError(),
    ],
    ['pg’s client closed under a query', new Error('Client was closed and is not queryable')],
    ['an S3 503', Object.assign(new Error('Slow Down'), { $metadata: { httpStatusCode: 503 } })],
    [
      'a connection failure wrapped in another error',
      new Error('loading manifest failed', { cause: systemError('ECONNREFUSED') }),
    ],
    [
      'a service that failed because its own database is down',
      new AcaiError(CommonProblems.INTERNAL, 'failed', undefined, {
        cause: systemError('ECONNREFUSED'),
      }),
    ],
  ])('waits out %s, never counting it', (_, error) => {
    expect(classifyFailure(error)).toBe('unavailable');
    expect(isTransient(classifyFailure(error))).toBe(true);
  });

  it.each([
    ['a lost race on an aggregate', new WrongExpectedVersionError('acai.evt.p.job.j', 3)],
    [
      'a concurrent change another service reports',
      new AcaiError(CommonProblems.CONCURRENT_CHANGE, 'raced'),
    ],
    ['a serialization failure (40001)', postgresError('40001', 'could not serialize access')],
    ['a deadlock victim (40P01)', postgresError('40P01', 'deadlock detected')],
  ])('retries %s without counting it', (_, error) => {
    expect(classifyFailure(error)).toBe('conflict');
    expect(isTransient(classifyFailure(error))).toBe(true);
  });

  it.each([
    ['an unexpected error', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['another service failing unexpectedly', new AcaiError(CommonProblems.INTERNAL, 'see its log')],
    ['a constraint violation', postgresError('23505', 'duplicate key value')],
    ['a table that is not there', postgresError('42P01', 'relation "x" does not exist')],
    [
      'a JetStream refusal',
      new JetStreamApiError({ code: 400, err_code: 10052, description: 'invalid' }),
    ],
    ['something thrown that is no error', 'boom'],
  ])('counts %s as an attempt', (_, error) => {
    expect(classifyFailure(error)).toBe('failure');
  });

  it.each([
    ['a poison message', new NonRetryableError('undecodable', 'not JSON')],
    ['a problem declared not retryable', new AcaiError(RunProblems.RUN_ALREADY_ENDED, 'ended')],
    ['too large a message', new AcaiError(CommonProblems.MESSAGE_TOO_LARGE, 'too large')],
  ])('gives up on %s at once', (_, error) => {
    expect(classifyFailure(error)).toBe('final');
  });
});
