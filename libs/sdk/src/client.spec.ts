import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { AcaiClient } from './client.js';
import { AcaiApiError, AcaiConnectionError, AcaiProtocolError } from './errors.js';
import { followEvents } from './events.js';
import { uploadFile } from './transfer.js';

type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

/** A real HTTP server whose answers each test sets. */
let handler: Handler = (_req, res) => res.end();
const seen: { method: string; url: string; headers: IncomingMessage['headers'] }[] = [];
let server: Server;
let url: string;
let dir: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      handler(req, res, Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = await mkdtemp(path.join(os.tmpdir(), 'acai-sdk-'));
});
afterEach(() => {
  seen.length = 0;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

const json = (res: ServerResponse, status: number, body: unknown, headers = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};
const page = { items: [], nextCursor: null };
const client = (retries = 3) =>
  new AcaiClient({ url, key: 'k-secret', retry: { retries, baseDelayMs: 10 } });

describe('AcaiClient', () => {
  it('sends the key, fills path and query, and checks the answer against the contract', async () => {
    handler = (_req, res) => json(res, 200, page);
    await expect(client().listRuns({ limit: 5 })).resolves.toEqual(page);
    expect(seen[0]).toMatchObject({ method: 'GET', url: '/api/v1/runs?limit=5' });
    expect(seen[0]!.headers.authorization).toBe('Bearer k-secret');

    handler = (_req, res) => json(res, 200, { items: 'nope' });
    await expect(client().listRuns()).rejects.toThrow(AcaiProtocolError);
  });

  it('retries a 429 after the Retry-After the server asked for', async () => {
    let calls = 0;
    handler = (_req, res) =>
      ++calls === 1
        ? json(res, 429, { code: 'RATE_LIMITED' }, { 'retry-after': '1' })
        : json(res, 200, page);
    const started = Date.now();
    await client().listRuns();
    expect(calls).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('gives up on a 503 after its bounded retries, with the problem as a typed error', async () => {
    handler = (_req, res) =>
      json(
        res,
        503,
        {
          status: 503,
          code: 'UNAVAILABLE',
          reason: 'SERVICE_UNAVAILABLE',
          detail: 'catalog is down; try again',
          retryable: true,
        },
        { 'retry-after': '0' },
      );
    const error = await client(2)
      .getFileset('mnist')
      .catch((e: unknown) => e);
    expect(seen).toHaveLength(3);
    expect(error).toBeInstanceOf(AcaiApiError);
    expect(error).toMatchObject({
      status: 503,
      code: 'UNAVAILABLE',
      detail: 'catalog is down; try again',
    });
  });

  it('turns a problem document into an error with its status, code, reason and detail, at once', async () => {
    handler = (_req, res) =>
      json(res, 404, {
        type: 'urn:acai:problem:fileset-not-found',
        status: 404,
        code: 'NOT_FOUND',
        reason: 'FILESET_NOT_FOUND',
        detail: 'No file set mnist in project default',
        retryable: false,
      });
    const error = await client()
      .getFileset('mnist')
      .catch((e: unknown) => e);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.url).toBe('/api/v1/filesets/mnist');
    expect(error).toMatchObject({
      status: 404,
      code: 'NOT_FOUND',
      reason: 'FILESET_NOT_FOUND',
      detail: 'No file set mnist in project default',
    });
    // The whole document too, for the members a caller may need beyond these.
    expect((error as AcaiApiError).problem).toMatchObject({
      type: 'urn:acai:problem:fileset-not-found',
    });
  });

  it('creates a project once: a lost answer is not retried, its key would be lost', async () => {
    handler = (_req, res) =>
      json(res, 503, { status: 503, detail: 'busy' }, { 'retry-after': '0' });
    await expect(client().createProject('vision')).rejects.toMatchObject({ status: 503 });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/api/v1/projects' });

    const created = { project: 'vision', keyId: 'key-1', scope: 'admin', key: 'acai_x' };
    handler = (_req, res) => json(res, 201, created);
    await expect(client().createProject('vision')).resolves.toEqual(created);
  });

  it('calls labels, impact, reuse and JSON logs on their routes', async () => {
    handler = (_req, res) => json(res, 500, { status: 500, detail: 'stop here' });
    const job = 'job-0123456789abcdefghijklmno';
    for (const call of [
      () => client(0).changeLabels('mnist', { add: ['prod'] }, 2),
      () => client(0).getImpact({ fileset: 'mnist', version: 1 }),
      () => client(0).explainReuse(job),
      () => client(0).getJobLogs(job, { format: 'json' }),
    ])
      await expect(call()).rejects.toMatchObject({ status: 500 });
    expect(seen.map((r) => `${r.method} ${r.url}`)).toEqual([
      'PATCH /api/v1/filesets/mnist/labels?version=2',
      'GET /api/v1/lineage/impact?fileset=mnist&version=1',
      `GET /api/v1/jobs/${job}/reuse`,
      `GET /api/v1/jobs/${job}/logs?format=json`,
    ]);
  });

  it('says a server that cannot be reached cannot be reached', async () => {
    const closed = new AcaiClient({
      url: 'http://127.0.0.1:1',
      key: 'k',
      retry: { retries: 1, baseDelayMs: 1 },
    });
    await expect(closed.listRuns()).rejects.toThrow(AcaiConnectionError);
  });

  it('encodes a file path segment by segment', () => {
    expect(client().urlOf('getFile', { name: 'a', ref: 'latest', path: 'd 1/x#y.bin' })).toBe(
      `${url}/api/v1/filesets/a/versions/latest/files/d%201/x%23y.bin`,
    );
  });

  it('streams a job’s log lines as they come', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('one\ntw');
      setTimeout(() => res.end('o\nthree'), 50);
    };
    const lines = [];
    for await (const line of client().followJobLogs('job-0123456789abcdefghijklmno'))
      lines.push(line);
    expect(lines).toEqual(['one', 'two', 'three']);
    expect(seen[0]!.url).toBe('/api/v1/jobs/job-0123456789abcdefghijklmno/logs?follow=true');
  });
});

describe('uploadFile', () => {
  it('streams the file and checks the server stored what it hashed', async () => {
    const file = path.join(dir, 'data.bin');
    const content = Buffer.alloc(3 * 1024 * 1024, 7);
    await writeFile(file, content);
    const sha256 = createHash('sha256').update(content).digest('hex');
    handler = (_req, res, body) =>
      json(res, 201, {
        sha256: createHash('sha256').update(body).digest('hex'),
        size: body.length,
      });
    const progress: number[] = [];
    await expect(uploadFile(client(), file, (done) => progress.push(done))).resolves.toEqual({
      sha256,
      size: content.length,
    });
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/api/v1/blobs' });
    expect(progress.at(-1)).toBe(content.length);
    expect(progress.length).toBeGreaterThan(1);

    handler = (_req, res, body) => json(res, 201, { sha256: '0'.repeat(64), size: body.length });
    await expect(uploadFile(client(), file)).rejects.toThrow(/hashed to/);
  });
});

describe('followEvents', () => {
  const envelope = (n: number) => ({
    id: `evt-${n}`,
    type: 'job.succeeded',
    version: 1,
    project: 'default',
    aggregate: 'job',
    aggregateId: 'job-1',
    occurredAt: '2026-12-05T01:00:00.000Z',
    causationId: null,
    correlationId: null,
    data: { n },
  });
  const frame = (n: number) =>
    `id: ${n}\nevent: job.succeeded\ndata: ${JSON.stringify(envelope(n))}\n\n`;

  it('reconnects with Last-Event-ID after a drop, with no gap and no duplicate', async () => {
    let connections = 0;
    handler = (req, res) => {
      connections++;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (connections === 1) {
        res.write(`: heartbeat\n\n${frame(1)}${frame(2)}id: 3\nevent: job.succ`);
        setTimeout(() => res.destroy(), 20);
      } else {
        const after = Number(req.headers['last-event-id']);
        res.end(frame(after + 1));
      }
    };
    const abort = new AbortController();
    const got = [];
    for await (const event of followEvents(client(), {
      types: ['job.*'],
      run: 'run-0123456789abcdefghijklmno',
      reconnectMs: 10,
      signal: abort.signal,
    })) {
      got.push(event);
      if (got.length === 3) abort.abort();
    }
    expect(got.map((e) => [e.position, e.type, e.envelope.id])).toEqual([
      [1, 'job.succeeded', 'evt-1'],
      [2, 'job.succeeded', 'evt-2'],
      [3, 'job.succeeded', 'evt-3'],
    ]);
    expect(seen[0]!.url).toBe('/api/v1/events?type=job.*&run=run-0123456789abcdefghijklmno');
    expect(seen[0]!.headers['last-event-id']).toBeUndefined();
    expect(seen[1]!.headers['last-event-id']).toBe('2');
  });

  it('ends with the server’s refusal of a filter', async () => {
    handler = (_req, res) =>
      json(res, 400, {
        status: 400,
        code: 'VALIDATION_FAILED',
        detail: 'type: unknown event type nope.x',
      });
    const iterate = async () => {
      for await (const _ of followEvents(client(), { types: ['nope.x'] })) break;
    };
    await expect(iterate()).rejects.toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
  });
});
