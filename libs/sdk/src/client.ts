import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import {
  Commands,
  CreatedKeySchema,
  type CreateKeyRequestSchema,
  KeyViewSchema,
  type RunSpecSchema,
  Sha256Schema,
  type CommitRequestSchema,
  KeyScopeSchema,
  type LabelsChangeSchema,
  type MetadataChangeSchema,
} from '@acai/contracts';
import { AcaiApiError, AcaiConnectionError, AcaiProtocolError } from './errors.js';
import { DEFAULT_RETRY, isRetryableStatus, retryDelayMs, type RetryPolicy } from './retry.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * Every route the SDK calls, by the name the gateway's route table gives it. A unit test
 * (test/unit/sdk-routes.spec.ts) checks each against that table, so the two cannot drift.
 */
export const Endpoints = {
  submitRun: { method: 'POST', path: '/api/v1/runs' },
  planRun: { method: 'POST', path: '/api/v1/runs/plan' },
  listRuns: { method: 'GET', path: '/api/v1/runs' },
  getRun: { method: 'GET', path: '/api/v1/runs/{id}' },
  getRunTrials: { method: 'GET', path: '/api/v1/runs/{id}/trials' },
  getRunTimeline: { method: 'GET', path: '/api/v1/runs/{id}/timeline' },
  cancelRun: { method: 'POST', path: '/api/v1/runs/{id}/cancel' },
  getJob: { method: 'GET', path: '/api/v1/jobs/{id}' },
  getJobHistory: { method: 'GET', path: '/api/v1/jobs/{id}/history' },
  getJobLogs: { method: 'GET', path: '/api/v1/jobs/{id}/logs' },
  explainReuse: { method: 'GET', path: '/api/v1/jobs/{id}/reuse' },
  getLineage: { method: 'GET', path: '/api/v1/lineage' },
  getImpact: { method: 'GET', path: '/api/v1/lineage/impact' },
  createFileset: { method: 'POST', path: '/api/v1/filesets' },
  searchFilesets: { method: 'GET', path: '/api/v1/filesets' },
  getFileset: { method: 'GET', path: '/api/v1/filesets/{name}' },
  commitVersion: { method: 'POST', path: '/api/v1/filesets/{name}/versions' },
  changeMetadata: { method: 'PATCH', path: '/api/v1/filesets/{name}/metadata' },
  changeLabels: { method: 'PATCH', path: '/api/v1/filesets/{name}/labels' },
  getVersion: { method: 'GET', path: '/api/v1/filesets/{name}/versions/{ref}' },
  listFiles: { method: 'GET', path: '/api/v1/filesets/{name}/versions/{ref}/files' },
  getFile: { method: 'GET', path: '/api/v1/filesets/{name}/versions/{ref}/files/{path+}' },
  diffVersions: { method: 'GET', path: '/api/v1/filesets/{name}/diff' },
  evictVersion: { method: 'POST', path: '/api/v1/filesets/{name}/versions/{version}/evict' },
  pinVersion: { method: 'PUT', path: '/api/v1/filesets/{name}/versions/{version}/pin' },
  unpinVersion: { method: 'DELETE', path: '/api/v1/filesets/{name}/versions/{version}/pin' },
  searchVersions: { method: 'GET', path: '/api/v1/versions' },
  uploadBlobHashed: { method: 'POST', path: '/api/v1/blobs' },
  createProject: { method: 'POST', path: '/api/v1/projects' },
  createKey: { method: 'POST', path: '/api/v1/projects/{name}/keys' },
  listKeys: { method: 'GET', path: '/api/v1/projects/{name}/keys' },
  revokeKey: { method: 'DELETE', path: '/api/v1/projects/{name}/keys/{id}' },
  replayProjection: { method: 'POST', path: '/api/v1/projections/{name}/replay' },
  getProjection: { method: 'GET', path: '/api/v1/projections/{name}' },
  streamEvents: { method: 'GET', path: '/api/v1/events' },
} as const satisfies Record<string, { method: HttpMethod; path: string }>;
export type EndpointName = keyof typeof Endpoints;

export type QueryValue = string | number | boolean | readonly string[] | undefined;
export type Query = Readonly<Record<string, QueryValue>>;

/** A request body fetch accepts. */
export type Body = NonNullable<globalThis.RequestInit['body']>;

export interface CallInit {
  readonly params?: Readonly<Record<string, string | number>>;
  readonly query?: Query;
  /** A JSON value, or a function that makes a fresh body for each attempt (a stream). */
  readonly body?: unknown;
  readonly stream?: () => { body: Body; headers?: Record<string, string> };
  readonly headers?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
  /** Attempts after the first for this request (default: the client's policy). */
  readonly retries?: number;
}

export interface AcaiClientOptions {
  /** The gateway's base URL (`http://127.0.0.1:8080`). */
  readonly url: string;
  /** An API key (`Authorization: Bearer …`). */
  readonly key: string;
  readonly retry?: Partial<RetryPolicy>;
  /** Called before each retry (to tell the user why it waits). */
  readonly onRetry?: (info: { status: number | null; attempt: number; delayMs: number }) => void;
}

export const BlobSchema = z.object({ sha256: Sha256Schema, size: z.number().int().nonnegative() });
export const KeyListSchema = z.object({ items: z.array(KeyViewSchema) });
/** A new project and its first key (`admin` of the project), shown once. */
export const CreatedProjectSchema = z.object({
  project: z.string(),
  keyId: z.string(),
  scope: KeyScopeSchema,
  key: z.string(),
});

type Result<K extends keyof typeof Commands> = z.output<(typeof Commands)[K]['response']>;
export type RunSpecInput = z.input<typeof RunSpecSchema>;
export type CommitInput = Omit<z.input<typeof CommitRequestSchema>, 'changesSha256'>;

/**
 * A typed client of the acai REST API. Each method is one route; answers are checked against the
 * contract's schemas. Requests refused for now (429, 503) or that could not reach the server are
 * retried, honouring `Retry-After`, a bounded number of times; other refusals throw
 * {@link AcaiApiError} with the problem's status, code, reason and detail.
 */
export class AcaiClient {
  readonly url: string;
  private readonly key: string;
  private readonly retry: RetryPolicy;

  constructor(private readonly options: AcaiClientOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.key = options.key;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
  }

  /** The URL of a route with its path parameters and query filled in. */
  urlOf(name: EndpointName, params: CallInit['params'] = {}, query: Query = {}): string {
    const path = Endpoints[name].path.replace(/\{(\w+)(\+?)\}/g, (_, key: string, rest: string) => {
      const value = params[key];
      if (value === undefined) throw new TypeError(`${name}: the path parameter ${key} is missing`);
      const text = String(value);
      return rest === '+'
        ? text.split('/').map(encodeURIComponent).join('/')
        : encodeURIComponent(text);
    });
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const v of value as readonly string[]) search.append(key, v);
      else search.append(key, String(value));
    }
    const qs = search.toString();
    return `${this.url}${path}${qs === '' ? '' : `?${qs}`}`;
  }

  /** Sends a request (retrying as the policy says) and answers the successful response. */
  async send(name: EndpointName, init: CallInit = {}): Promise<Response> {
    const { method } = Endpoints[name];
    const url = this.urlOf(name, init.params, init.query);
    const retries = init.retries ?? this.retry.retries;
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = {
        authorization: `Bearer ${this.key}`,
        ...init.headers,
      };
      let body: Body | undefined;
      if (init.stream !== undefined) {
        const made = init.stream();
        body = made.body;
        Object.assign(headers, made.headers);
      } else if (init.body !== undefined) {
        body = JSON.stringify(init.body);
        headers['content-type'] = 'application/json';
      }
      let response: Response;
      try {
        response = await fetch(url, {
          method,
          headers,
          ...(body === undefined ? {} : { body }),
          ...(init.stream === undefined ? {} : { duplex: 'half' }),
          ...(init.signal === undefined ? {} : { signal: init.signal }),
        });
      } catch (error) {
        if (init.signal?.aborted === true) throw error;
        if (attempt >= retries) throw new AcaiConnectionError(this.url, error);
        const delayMs = retryDelayMs(this.retry, attempt, null);
        this.options.onRetry?.({ status: null, attempt: attempt + 1, delayMs });
        await sleep(delayMs, undefined, init.signal ? { signal: init.signal } : {});
        continue;
      }
      if (response.ok) return response;
      if (isRetryableStatus(response.status) && attempt < retries) {
        const delayMs = retryDelayMs(this.retry, attempt, response.headers.get('retry-after'));
        await response.body?.cancel();
        this.options.onRetry?.({ status: response.status, attempt: attempt + 1, delayMs });
        await sleep(delayMs, undefined, init.signal ? { signal: init.signal } : {});
        continue;
      }
      throw await AcaiApiError.from(response, method, new URL(url).pathname);
    }
  }

  /** Sends a request and reads its JSON answer with `schema`. */
  async json<S extends z.ZodType>(
    schema: S,
    name: EndpointName,
    init: CallInit = {},
  ): Promise<z.output<S>> {
    const response = await this.send(name, init);
    const text = await response.text();
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new AcaiProtocolError(`${name}: the server answered no JSON (${text.slice(0, 200)})`);
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new AcaiProtocolError(
        `${name}: the answer does not match the contract (${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''}); is the server another version?`,
      );
    }
    return parsed.data;
  }

  // Runs

  submitRun(spec: RunSpecInput): Promise<Result<'submitRun'>> {
    return this.json(Commands.submitRun.response, 'submitRun', { body: spec });
  }
  planRun(spec: RunSpecInput): Promise<Result<'planRun'>> {
    return this.json(Commands.planRun.response, 'planRun', { body: spec });
  }
  listRuns(query: { limit?: number; cursor?: string } = {}): Promise<Result<'listRuns'>> {
    return this.json(Commands.listRuns.response, 'listRuns', { query });
  }
  getRun(id: string): Promise<Result<'getRun'>> {
    return this.json(Commands.getRun.response, 'getRun', { params: { id } });
  }
  getRunTrials(id: string): Promise<Result<'getRunTrials'>> {
    return this.json(Commands.getRunTrials.response, 'getRunTrials', { params: { id } });
  }
  getRunTimeline(
    id: string,
    query: { after?: number; limit?: number } = {},
  ): Promise<Result<'getRunTimeline'>> {
    return this.json(Commands.getRunTimeline.response, 'getRunTimeline', {
      params: { id },
      query,
    });
  }
  cancelRun(id: string): Promise<Result<'cancelRun'>> {
    return this.json(Commands.cancelRun.response, 'cancelRun', { params: { id } });
  }

  // Jobs

  getJob(id: string): Promise<Result<'getJob'>> {
    return this.json(Commands.getJob.response, 'getJob', { params: { id } });
  }
  getJobHistory(id: string): Promise<Result<'getJobHistory'>> {
    return this.json(Commands.getJobHistory.response, 'getJobHistory', { params: { id } });
  }
  /**
   * A job's output so far, as text; with `format: 'json'`, one `{"t","s","l"}` object a line
   * (time, stream `out`/`err`, the line).
   */
  async getJobLogs(id: string, options: { format?: 'text' | 'json' } = {}): Promise<string> {
    const query = options.format === undefined ? {} : { format: options.format };
    return (await this.send('getJobLogs', { params: { id }, query })).text();
  }
  /** Why the job was or was not reused, and each part that differs from the nearest earlier one. */
  explainReuse(id: string): Promise<Result<'explainReuse'>> {
    return this.json(Commands.explainReuse.response, 'explainReuse', { params: { id } });
  }
  /**
   * A job's output line by line, following it live until the job ends (`?follow=true`): the lines
   * it printed so far first, then each new one as it comes.
   */
  async *followJobLogs(id: string, signal?: AbortSignal): AsyncGenerator<string> {
    const response = await this.send('getJobLogs', {
      params: { id },
      query: { follow: 'true' },
      ...(signal === undefined ? {} : { signal }),
    });
    if (response.body === null) return;
    const decoder = new TextDecoder();
    let rest = '';
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      rest += decoder.decode(chunk, { stream: true });
      const lines = rest.split('\n');
      rest = lines.pop() ?? '';
      yield* lines;
    }
    rest += decoder.decode();
    if (rest !== '') yield rest;
  }

  // Lineage

  getLineage(query: Query): Promise<Result<'getLineage'>> {
    return this.json(Commands.getLineage.response, 'getLineage', { query });
  }
  /** What depends on a file set version (`fileset`, `version`), jobs in the order to recompute. */
  getImpact(query: Query): Promise<Result<'getImpact'>> {
    return this.json(Commands.getImpact.response, 'getImpact', { query });
  }

  // File sets

  createFileset(request: {
    name: string;
    labels?: string[];
    metadata?: Record<string, unknown>;
  }): Promise<Result<'createFileset'>> {
    return this.json(Commands.createFileset.response, 'createFileset', { body: request });
  }
  /** Search parameters as the README's Search section lists them (`label`, `meta.x[gte]` …). */
  searchFilesets(query: Query = {}): Promise<Result<'searchFilesets'>> {
    return this.json(Commands.searchFilesets.response, 'searchFilesets', { query });
  }
  searchVersions(query: Query = {}): Promise<Result<'searchVersions'>> {
    return this.json(Commands.searchVersions.response, 'searchVersions', { query });
  }
  getFileset(name: string): Promise<Result<'getFileset'>> {
    return this.json(Commands.getFileset.response, 'getFileset', { params: { name } });
  }
  commitVersion(name: string, commit: CommitInput): Promise<Result<'commitVersion'>> {
    return this.json(Commands.commitVersion.response, 'commitVersion', {
      params: { name },
      body: commit,
      // A commit is not idempotent: a lost answer is a conflict on retry, never a second version.
      retries: 0,
    });
  }
  /** Sets, merges or removes metadata of the file set (or, with `version`, of one version). */
  changeMetadata(
    name: string,
    change: z.input<typeof MetadataChangeSchema>,
    version?: number,
  ): Promise<Result<'changeMetadata'>> {
    return this.json(Commands.changeMetadata.response, 'changeMetadata', {
      params: { name },
      body: change,
      ...(version === undefined ? {} : { query: { version } }),
    });
  }
  /** Adds and removes labels of the file set (or, with `version`, of one version). */
  changeLabels(
    name: string,
    change: z.input<typeof LabelsChangeSchema>,
    version?: number,
  ): Promise<Result<'changeLabels'>> {
    return this.json(Commands.changeLabels.response, 'changeLabels', {
      params: { name },
      body: change,
      ...(version === undefined ? {} : { query: { version } }),
    });
  }
  getVersion(name: string, ref: string | number): Promise<Result<'getVersion'>> {
    return this.json(Commands.getVersion.response, 'getVersion', { params: { name, ref } });
  }
  listFiles(
    name: string,
    ref: string | number,
    query: { prefix?: string; limit?: number; cursor?: string } = {},
  ): Promise<Result<'listFiles'>> {
    return this.json(Commands.listFiles.response, 'listFiles', { params: { name, ref }, query });
  }
  /** Every file of a version, page after page. */
  async *allFiles(name: string, ref: string | number, prefix?: string) {
    let cursor: string | undefined;
    do {
      const page = await this.listFiles(name, ref, {
        limit: 1000,
        ...(prefix === undefined ? {} : { prefix }),
        ...(cursor === undefined ? {} : { cursor }),
      });
      yield* page.items;
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
  }
  diffVersions(name: string, from: string, to: string): Promise<Result<'diffVersions'>> {
    return this.json(Commands.diffVersions.response, 'diffVersions', {
      params: { name },
      query: { from, to },
    });
  }
  evictVersion(name: string, version: number, reason?: string): Promise<Result<'evictVersion'>> {
    return this.json(Commands.evictVersion.response, 'evictVersion', {
      params: { name, version },
      body: reason === undefined ? {} : { reason },
    });
  }
  pinVersion(name: string, version: number, pinned = true): Promise<Result<'pinVersion'>> {
    return this.json(Commands.pinVersion.response, pinned ? 'pinVersion' : 'unpinVersion', {
      params: { name, version },
    });
  }

  // Projects and keys (a new project needs the platform's admin key)

  createProject(name: string): Promise<z.output<typeof CreatedProjectSchema>> {
    // Not idempotent: a lost answer is a conflict on retry, and the key would be lost with it.
    return this.json(CreatedProjectSchema, 'createProject', { body: { name }, retries: 0 });
  }
  createKey(
    project: string,
    request: z.input<typeof CreateKeyRequestSchema>,
  ): Promise<z.output<typeof CreatedKeySchema>> {
    return this.json(CreatedKeySchema, 'createKey', { params: { name: project }, body: request });
  }
  listKeys(project: string): Promise<z.output<typeof KeyListSchema>> {
    return this.json(KeyListSchema, 'listKeys', { params: { name: project } });
  }
  revokeKey(project: string, id: string): Promise<z.output<typeof KeyViewSchema>> {
    return this.json(KeyViewSchema, 'revokeKey', { params: { name: project, id } });
  }

  // Projections (platform admin)

  replayProjection(name: string): Promise<Result<'replayProjection'>> {
    return this.json(Commands.replayProjection.response, 'replayProjection', {
      params: { name },
    });
  }
  getProjection(name: string): Promise<Result<'getProjection'>> {
    return this.json(Commands.getProjection.response, 'getProjection', { params: { name } });
  }
}
