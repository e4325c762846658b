import { z } from 'zod';
import { assertUnreachable, declaredProblems, ErrorCode } from '@acai/contracts';
import { Routes, type ErrorStatus, type RouteSpec } from '../http/routes.js';

const reasons = () => declaredProblems().map((p) => p.reason) as [string, ...string[]];

const DetailsSchema = z
  .array(z.object({ path: z.string().optional(), message: z.string() }))
  .optional()
  .describe('One entry per bad field, named by its dotted path (`steps.0.command`)');

/**
 * The body of every failed request: an RFC 9457 problem document, its problems the ones the code
 * declares (`declaredProblems`), its categories the `ErrorCode`s.
 */
export function problemSchema() {
  const code = z.enum(Object.values(ErrorCode) as [ErrorCode, ...ErrorCode[]]);
  const reason = z.enum(reasons()).describe('What went wrong, one of the problems acai declares');
  return z.object({
    type: z.string().describe('`urn:acai:problem:<reason>`; see docs/errors.md'),
    title: z.string().describe('The problem’s fixed summary'),
    status: z.number().int().describe('The HTTP status'),
    detail: z.string().describe('What went wrong here and what to do'),
    instance: z.string().optional().describe('The path of the request'),
    code: code.describe('The category; it decides the status'),
    reason,
    retryable: z.boolean().describe('Whether the same request may succeed later as it is'),
    details: DetailsSchema,
    usedBytes: z
      .number()
      .int()
      .optional()
      .describe('Storage quota problems: the bytes the project stores'),
    quotaBytes: z.number().int().optional().describe('Storage quota problems: its quota'),
    uploadBytes: z
      .number()
      .int()
      .optional()
      .describe('Storage quota problems: the bytes the upload would add (when known)'),
    error: z
      .object({
        code,
        reason,
        retryable: z.boolean(),
        message: z.string().describe('Same as `detail`'),
        details: DetailsSchema,
      })
      .describe('The error body of earlier releases, kept for the clients that read it'),
  });
}

const ERROR_DESCRIPTIONS: Record<ErrorStatus, string> = {
  400: 'The request is invalid; `details` names each bad field',
  401: 'Missing or wrong API key',
  403: 'The key’s scope does not allow this (`x-acai-scope` says which it needs)',
  404: 'No such thing in this project',
  409: 'It conflicts with the current state (another commit came first, already cancelled, pinned)',
  413: 'The body is larger than this server accepts',
  415: 'The body is not JSON: send `content-type: application/json`',
  416: 'The requested range is outside the file',
  429: 'Too many requests with this key: try again after `Retry-After` seconds',
  503: 'A service it needs is not answering; try again',
  422: 'It cannot be done as asked (a deadline already past, a budget below the cheapest plan): the body says why, with the estimate',
  507: 'It would take the project over its storage quota: see `usedBytes`, `quotaBytes`, `uploadBytes`',
};

/** The query parameters of both searches (file sets and versions). */
const SEARCH_PARAMETERS = [
  {
    name: 'prefix',
    schema: { type: 'string' },
    description: 'Name prefix (also `name`, `fileset`)',
  },
  {
    name: 'label',
    schema: { type: 'array', items: { type: 'string' } },
    description: 'All of these labels',
  },
  {
    name: 'anyLabel',
    schema: { type: 'array', items: { type: 'string' } },
    description: 'Any of these labels',
  },
  {
    name: 'meta.<path>[op]',
    schema: { type: 'string' },
    description:
      'Metadata predicate: `meta.task=digits`, `meta.metrics.accuracy[gte]=0.9` (gt, gte, lt, lte), `meta.x[exists]=true`, `meta.tags[contains]=cnn`',
  },
  { name: 'createdAfter', schema: { type: 'string', format: 'date-time' } },
  { name: 'createdBefore', schema: { type: 'string', format: 'date-time' } },
  { name: 'creatorJob', schema: { type: 'string' }, description: 'Versions made by this job' },
  { name: 'creatorRun', schema: { type: 'string' }, description: 'Versions made by this run' },
  {
    name: 'latest',
    schema: { type: 'boolean' },
    description: 'Only each file set’s newest version',
  },
  { name: 'sort', schema: { type: 'string', enum: ['created', '-created', 'name'] } },
  { name: 'limit', schema: { type: 'integer', minimum: 1, maximum: 500 } },
  { name: 'cursor', schema: { type: 'string' }, description: '`nextCursor` of the previous page' },
].map((p) => ({ ...p, in: 'query' }));

const BODY_TYPES = {
  binary: 'application/octet-stream',
  text: 'text/plain',
  ndjson: 'application/x-ndjson',
  tar: 'application/x-tar',
  html: 'text/html',
  sse: 'text/event-stream',
} as const;

type Json = Record<string, unknown>;

function schema(s: z.ZodType, io: 'input' | 'output'): Json {
  const { $schema: _drop, ...rest } = z.toJSONSchema(s, { io, unrepresentable: 'any' });
  return rest;
}

/** `/a/{path+}` → `/a/{path}`: OpenAPI has no greedy parameter; its description says so. */
function openApiPath(path: string): string {
  return path.replace(/\{(\w+)\+\}/, '{$1}');
}

function parameters(route: RouteSpec): Json[] {
  const out: Json[] = [];
  for (const [name, field] of Object.entries(route.params?.shape ?? {})) {
    const greedy = route.path.includes(`{${name}+}`);
    out.push({
      name,
      in: 'path',
      required: true,
      schema: schema(field as z.ZodType, 'input'),
      ...(greedy ? { description: 'The rest of the URL: a path that may contain `/`' } : {}),
    });
  }
  if (route.query === 'search') {
    out.push(...SEARCH_PARAMETERS);
  } else if (route.query !== undefined) {
    for (const [name, field] of Object.entries(route.query.shape)) {
      const zod = field as z.ZodType;
      const json = schema(zod, 'input');
      out.push({
        name,
        in: 'query',
        required: !zod.safeParse(undefined).success,
        schema: json,
        ...(typeof json['description'] === 'string' ? { description: json['description'] } : {}),
      });
    }
  }
  return out;
}

function content(
  body: RouteSpec['success']['body'] | NonNullable<RouteSpec['body']>,
  io: 'input' | 'output',
): Json {
  if (typeof body === 'string') {
    return {
      [BODY_TYPES[body]]: {
        schema:
          body === 'binary' || body === 'tar'
            ? { type: 'string', format: 'binary' }
            : { type: 'string' },
      },
    };
  }
  return { 'application/json': { schema: schema(body, io) } };
}

/** The same schema under the YAML media types, for a route that reads YAML too. */
function withYaml(json: Json, yaml: boolean): Json {
  const schema = json['application/json'];
  if (!yaml || schema === undefined) return json;
  return { ...json, 'application/yaml': schema, 'text/yaml': schema };
}

/** The errors a route's access implies: 401 without a valid key, 403 without the scope, 429. */
function accessErrors(route: RouteSpec): ErrorStatus[] {
  switch (route.auth) {
    case 'public':
      return [];
    case 'read':
      return [401, 429];
    case 'write':
    case 'admin':
    case 'platform':
      return [401, 403, 429];
    default:
      return assertUnreachable(route.auth, 'access');
  }
}

const ACCESS_NOTES = {
  public: 'No key needed.',
  read: 'Any key of the project (scope `read` or more).',
  write: 'A key of the project with scope `write` or `admin`.',
  admin: 'An admin key of the project, or the platform admin key.',
  platform: 'The platform admin key only.',
} as const;

function operation(name: string, route: RouteSpec): Json {
  const errors: Json = {};
  const statuses = [...new Set([...route.errors, ...accessErrors(route)])].sort((a, b) => a - b);
  for (const status of statuses) {
    errors[String(status)] = {
      description: ERROR_DESCRIPTIONS[status],
      content: {
        'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } },
      },
    };
  }
  return {
    operationId: name,
    tags: [route.tag],
    summary: route.summary,
    description: `${(route.description ?? route.summary).replace(/\.?$/, '.')} ${ACCESS_NOTES[route.auth]}`,
    ...(route.auth === 'public' ? { security: [] } : {}),
    'x-acai-scope': route.auth,
    parameters: parameters(route),
    ...(route.body === undefined
      ? {}
      : {
          requestBody: {
            required: route.body !== undefined,
            content: withYaml(content(route.body, 'input'), route.yaml === true),
          },
        }),
    responses: {
      [String(route.success.status)]: {
        description: route.success.description,
        content: content(route.success.body, 'output'),
      },
      ...errors,
    },
  };
}

/** The REST API as OpenAPI 3.1, generated from the route table and the contracts' zod schemas. */
export function openApiDocument(): Json {
  const paths: Record<string, Json> = {};
  for (const [name, route] of Object.entries(Routes) as [string, RouteSpec][]) {
    const path = openApiPath(route.path);
    paths[path] = { ...paths[path], [route.method.toLowerCase()]: operation(name, route) };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'acai',
      version: '1',
      description:
        'acai REST API. Every call needs `Authorization: Bearer <key>`; a key sees only its own project (another project’s resources are 404), and its scope (`read`, `write`, `admin`) says what it may do there: each operation’s `x-acai-scope` names the scope it needs (`platform`: the platform admin key; `public`: no key). Too many requests with one key get 429 and `Retry-After`. `npm run up` writes the default project’s admin key, also the platform admin key, to `$ACAI_HOME/default.key`.',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    tags: [
      { name: 'runs', description: 'Pipelines of steps, run in `needs` order' },
      { name: 'jobs', description: 'One step of a run: its history, logs and metrics' },
      {
        name: 'events',
        description:
          'The project’s events, live (Server-Sent Events); catalogue: /api/asyncapi.json',
      },
      { name: 'filesets', description: 'Versioned file sets on content-addressed blobs' },
      {
        name: 'lineage',
        description: 'Which versions, code, parameters and jobs made what, and what depends on it',
      },
      { name: 'resources', description: 'Configurations, nodes and the auto-provisioner' },
      { name: 'keys', description: 'A project’s API keys and their scopes; admin keys only' },
      { name: 'storage', description: 'The bytes a project stores, and its storage quota' },
      { name: 'admin', description: 'Across projects; the platform admin key only' },
      { name: 'docs', description: 'This document' },
    ],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: { Problem: schema(problemSchema(), 'output') },
    },
    paths,
  };
}
