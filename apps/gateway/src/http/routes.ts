import {
  applyDecorators,
  HttpCode,
  RequestMapping,
  RequestMethod,
  SetMetadata,
} from '@nestjs/common';
import { z } from 'zod';
import type { Access } from '../auth/access.js';
import { EventTypesParamSchema, LogPositionSchema } from '../events/event-filter.js';
import {
  SubscriberCredentialsSchema,
  SubscriberUserSchema,
  SubscriberViewSchema,
} from '../events/subscriber-credentials.js';
import {
  AcaiError,
  Commands,
  DeadLetterFilterSchema,
  DeadLetterListSchema,
  RedriveResultSchema,
  CreatedKeySchema,
  CreateKeyRequestSchema,
  KeyScopeSchema,
  KeyViewSchema,
  PutSecretRequestSchema,
  SecretNameSchema,
  SecretViewSchema,
  SetQuotaRequestSchema,
  SetStorageBudgetSchema,
  StorageBudgetViewSchema,
  StorageViewSchema,
  CommonProblems,
  parseOrThrow,
  CommitRequestSchema,
  CreateFilesetRequestSchema,
  FilePathSchema,
  FilesetNameSchema,
  LabelsChangeSchema,
  LINEAGE_DEFAULT_DEPTH,
  LINEAGE_MAX_DEPTH,
  LineageDirectionSchema,
  MetadataChangeSchema,
  RunSpecSchema,
  Sha256Schema,
  StepSpecSchema,
} from '@acai/contracts';

/**
 * The REST API as data: every route the gateway serves, with the zod schemas of its parameters,
 * body and answer. Controllers bind their methods with `@Route(Routes.x)`, and the OpenAPI
 * document (`/api/openapi.json`) is generated from this table, so what is served and what is
 * documented cannot drift apart (an e2e test compares both with the routes Fastify registered).
 * Answers are the commands' response schemas where a route answers a command.
 */

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** What a route answers besides its success: the HTTP statuses of its errors. */
export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 416 | 422 | 429 | 503 | 507;

export interface RouteSpec {
  readonly method: HttpMethod;
  /** OpenAPI form: `/api/v1/filesets/{name}`; a trailing `{path+}` takes the rest of the URL. */
  readonly path: string;
  readonly tag: string;
  readonly summary: string;
  readonly description?: string;
  /**
   * Who may call it, stated for every route: anyone (`public`), a key of the project with at least
   * this scope (`read`, `write`, `admin`), or the platform admin key (`platform`). The OpenAPI
   * document shows it (`x-acai-scope`) and adds the 401, 403 and 429 it implies.
   */
  readonly auth: Access;
  readonly params?: z.ZodObject;
  /** Query parameters: a schema, or the search parameters of file sets and versions. */
  readonly query?: z.ZodObject | 'search';
  readonly body?: z.ZodType | 'binary';
  /** The body may be sent as YAML too (`application/yaml`, `text/yaml`), read into the same value. */
  readonly yaml?: boolean;
  readonly success: {
    readonly status: 200 | 201 | 202 | 206;
    readonly description: string;
    /** A JSON body of this schema, or another kind of body. */
    readonly body: z.ZodType | 'binary' | 'text' | 'ndjson' | 'tar' | 'html' | 'sse';
  };
  readonly errors: readonly ErrorStatus[];
}

/** Path parameters, each checked with the same rule everywhere. */
const FilesetParams = z.object({ name: FilesetNameSchema });
const VersionParams = z.object({
  name: FilesetNameSchema,
  ref: z.string().min(1).max(63).describe('A version number, `latest`, or a label such as `prod`'),
});
const NumberedVersionParams = z.object({
  name: FilesetNameSchema,
  version: z.coerce.number().int().positive().describe('A version number'),
});
const idParams = (what: string) =>
  z.object({
    id: z
      .string()
      .regex(/^[a-z]+-[0-9a-z]{23}$/, `a ${what} id`)
      .describe(`${what} id`),
  });

export const ListQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().min(1).optional().describe('`nextCursor` of the previous page'),
});
export const FilesQuerySchema = z.object({
  prefix: z.string().max(1024).optional().describe('Only paths that start with this'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().min(1).optional().describe('`nextCursor` of the previous page'),
});
export const TargetQuerySchema = z.object({
  version: z.coerce
    .number()
    .int()
    .positive()
    .optional()
    .describe('Change this version instead of the file set'),
});
export const DiffQuerySchema = z.object({
  from: z.string().min(1).describe('A version number, `latest` or a label'),
  to: z.string().min(1).describe('A version number, `latest` or a label'),
});
export const TimelineQuerySchema = z.object({
  after: z.coerce
    .number()
    .int()
    .nonnegative()
    .default(0)
    .describe('`next` of the previous page: entries after this log position'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
export const MetricsQuerySchema = z.object({
  name: z.string().min(1).max(200).optional().describe('Only this metric'),
});
export const LogsQuerySchema = z.object({
  follow: z
    .enum(['true', 'false', '1', '0'])
    .optional()
    .describe('Stream new lines until the job ends'),
  format: z.enum(['text', 'json']).default('text').describe('`json`: one `{t, s, l}` per line'),
});
const idQuery = (what: string) =>
  z
    .string()
    .regex(/^[a-z]+-[0-9a-z]{23}$/, `a ${what} id`)
    .optional()
    .describe(`Only events about this ${what}`);
export const EventsQuerySchema = z.object({
  type: EventTypesParamSchema.optional(),
  run: idQuery('run'),
  job: idQuery('job'),
  fileset: FilesetNameSchema.optional().describe('Only events of this file set'),
  after: LogPositionSchema.optional().describe(
    'Start after this log position (an event’s `id`); the `Last-Event-ID` header wins. Neither: new events only',
  ),
});
export const EvictBodySchema = z.strictObject({ reason: z.string().min(1).max(500).optional() });
export const CreateProjectSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'a project name is 1-40 lower-case letters, digits and -'),
});
const CreatedProjectSchema = z.object({
  project: z.string(),
  keyId: z.string(),
  scope: KeyScopeSchema.describe('`admin`: the key manages the project, its keys included'),
  key: z.string().describe('The API key, shown once: keep it'),
});
const ProjectParams = z.object({ name: CreateProjectSchema.shape.name });
const KeyParams = ProjectParams.extend({
  id: z
    .string()
    .regex(/^key-[0-9a-z]{23}$/, 'a key id (key-…)')
    .describe('key id'),
});
const SecretParams = ProjectParams.extend({ secret: SecretNameSchema.describe('secret name') });
const BlobSchema = z.object({ sha256: z.string(), size: z.number().int().nonnegative() });
export const DeadLettersQuerySchema = DeadLetterFilterSchema.extend({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().min(1).max(300).optional().describe('`nextCursor` of the previous page'),
  payload: z
    .enum(['true', 'false', '1', '0'])
    .optional()
    .describe(
      'Add each letter’s payload, in base64: the event as stored, which may hold project data',
    ),
});
export const RedriveDeadLettersBodySchema = z.strictObject(DeadLetterFilterSchema.shape);

const LineageStartQuery = {
  fileset: FilesetNameSchema.optional().describe('Start at a version of this file set'),
  version: z.coerce.number().int().positive().optional().describe('The version of `fileset`'),
};
const PageQuery = {
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().min(1).max(500).optional().describe('`nextCursor` of the previous page'),
};
export const LineageQuerySchema = z
  .object({
    ...LineageStartQuery,
    job: z
      .string()
      .regex(/^[a-z]+-[0-9a-z]{23}$/, 'a job id')
      .optional()
      .describe('Start at this job instead of a version'),
    direction: LineageDirectionSchema.default('down').describe(
      '`up`: what it was made from; `down`: what was made from it; `both`',
    ),
    depth: z.coerce
      .number()
      .int()
      .min(1)
      .max(LINEAGE_MAX_DEPTH)
      .default(LINEAGE_DEFAULT_DEPTH)
      .describe(
        `How many edges to walk (version → job is one, job → version another), 1-${LINEAGE_MAX_DEPTH}`,
      ),
    ...PageQuery,
  })
  .superRefine((q, ctx) => {
    if (q.job !== undefined && (q.fileset !== undefined || q.version !== undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['job'],
        message: 'give job, or fileset and version, not both',
      });
      return;
    }
    // Without a job, both `fileset` and `version`: an issue names each one missing.
    for (const field of ['fileset', 'version'] as const) {
      if (q.job === undefined && q[field] === undefined) {
        ctx.addIssue({ code: 'custom', path: [field], message: `${field} is required (or job)` });
      }
    }
  });
export const ExperimentGraphQuerySchema = z.object({
  run: z
    .string()
    .regex(/^[a-z]+-[0-9a-z]{23}$/, 'a run id')
    .optional()
    .describe('The run (absent: the whole project)'),
  ...PageQuery,
});
export const ImpactQuerySchema = z.object({
  fileset: FilesetNameSchema.describe('The file set of the version'),
  version: z.coerce.number().int().positive().describe('The version'),
  ...PageQuery,
});

const read = [400, 401, 404] as const;
const write = [400, 401, 404, 409, 415] as const;

function route<const R extends RouteSpec>(spec: R): R {
  return spec;
}

export const Routes = {
  submitRun: route({
    method: 'POST',
    path: '/api/v1/runs',
    tag: 'runs',
    auth: 'write',
    summary: 'Submit a run',
    description:
      'Steps run in `needs` order, each command as an argv with no shell; the spec may be sent as JSON or YAML (`content-type: application/yaml`), with the same schema (also at `docs/run-spec.schema.json`). Every refusal names the step and the field. A step no configuration can take is refused here, naming it. A `deadline` already past (`RUN_DEADLINE_PASSED`) or a `budget` below the cheapest possible plan (`RUN_BUDGET_BELOW_CHEAPEST_PLAN`) is refused with `422`, the estimate in the body (`cheapestCost`, `predictedCost`, `predictedFinish`, …); `POST /api/v1/runs/plan` shows the plan first.',
    body: RunSpecSchema,
    yaml: true,
    success: {
      status: 202,
      description: 'Accepted: the run and its job ids',
      body: Commands.submitRun.response,
    },
    errors: [400, 401, 413, 415, 422],
  }),
  planRun: route({
    method: 'POST',
    path: '/api/v1/runs/plan',
    tag: 'runs',
    auth: 'read',
    summary:
      'What a run would do, without running it: per step its configuration, time, cost, start and finish; whether the deadline and budget hold',
    description:
      'Takes the same spec as `POST /api/v1/runs` (JSON or YAML) and submits nothing. Each step gets its share of the run’s `deadline` (by the critical path through it) and `budget` (by its cheapest cost), and the configuration the auto-provisioner would choose within it, from the project’s own runtime models; a step starts when the steps it needs finish. A step without a runtime model has no predicted time (its cost counts only its boot in `cheapestCost`), so the run’s finish and cost are unknown (`complete: false`). When the deadline or budget does not hold, `summary` says by how much, and `alternatives` whether every step at its fastest, or at its cheapest, would. `reuse` says for each step whether an earlier intact result would be taken (`reuse`), it would be computed (`compute`), it is not needed (only steps that take earlier results read it: `not_needed`), or it is decided when the steps it reads have committed their outputs (`when_ready`), with why; absent when earlier results could not be looked up.',
    body: RunSpecSchema,
    yaml: true,
    success: { status: 200, description: 'The plan', body: Commands.planRun.response },
    errors: [400, 401, 413, 415],
  }),
  listRuns: route({
    method: 'GET',
    path: '/api/v1/runs',
    tag: 'runs',
    auth: 'read',
    summary: 'List runs, newest first',
    query: ListQuerySchema,
    success: { status: 200, description: 'A page of runs', body: Commands.listRuns.response },
    errors: [400, 401],
  }),
  getRun: route({
    method: 'GET',
    path: '/api/v1/runs/{id}',
    tag: 'runs',
    auth: 'read',
    summary: 'A run and the status of each of its jobs',
    params: idParams('run'),
    success: { status: 200, description: 'The run', body: Commands.getRun.response },
    errors: read,
  }),
  getRunTrials: route({
    method: 'GET',
    path: '/api/v1/runs/{id}/trials',
    tag: 'runs',
    auth: 'read',
    summary:
      'The trials of the run’s sweeps: parameters, status, last metrics, objective, why stopped',
    description:
      'One entry per swept step: its objective, early-stopping rule and maxParallel, and every trial (job `<step>#<n>`) with its parameters, status, the last value of each metric it reported, its objective, and why it stopped (`earlyStopped` holds the rule, its value and the threshold it missed). `best` is the best trial once the sweep completed (the one whose output steps that take the swept step’s output get), the leader before. A run without sweeps has none.',
    params: idParams('run'),
    success: { status: 200, description: 'Its sweeps', body: Commands.getRunTrials.response },
    errors: read,
  }),
  getRunTimeline: route({
    method: 'GET',
    path: '/api/v1/runs/{id}/timeline',
    tag: 'runs',
    auth: 'read',
    summary:
      'The run’s timeline: its steps, trials and attempts and every decision about them, in order',
    description:
      'Every event of the run and of its jobs in log order (metric reports left out: `GET /api/v1/jobs/{id}/metrics`), each with `summary`, a sentence for a person, and `data`, the payload of the decision it records: where a job was provisioned and why (offer, predicted time and cost, rule), a rescale (direction, reason, predictions), a retry (reason, delay), a skip, cancel or failure (reason, message), a step’s share of the deadline and budget, a trial stopped early. An event type added later is listed too, with a sentence made from its type. A page at a time: `next` is the `after` of the next page, null on the last.',
    params: idParams('run'),
    query: TimelineQuerySchema,
    success: {
      status: 200,
      description: 'A page of its timeline',
      body: Commands.getRunTimeline.response,
    },
    errors: read,
  }),
  cancelRun: route({
    method: 'POST',
    path: '/api/v1/runs/{id}/cancel',
    tag: 'runs',
    auth: 'write',
    summary: 'Cancel a run',
    description:
      'Queued steps never run; running processes are killed (their whole process group).',
    params: idParams('run'),
    success: { status: 202, description: 'Cancelling', body: Commands.cancelRun.response },
    errors: [400, 401, 404, 409],
  }),
  getJob: route({
    method: 'GET',
    path: '/api/v1/jobs/{id}',
    tag: 'jobs',
    auth: 'read',
    summary: 'One job: status, attempt, pool, exit code, failure reason and message',
    params: idParams('job'),
    success: { status: 200, description: 'The job', body: Commands.getJob.response },
    errors: read,
  }),
  getJobHistory: route({
    method: 'GET',
    path: '/api/v1/jobs/{id}/history',
    tag: 'jobs',
    auth: 'read',
    summary: 'Every event of the job, in log order',
    params: idParams('job'),
    success: { status: 200, description: 'Its events', body: Commands.getJobHistory.response },
    errors: read,
  }),
  explainReuse: route({
    method: 'GET',
    path: '/api/v1/jobs/{id}/reuse',
    tag: 'jobs',
    auth: 'read',
    summary:
      'Why the job was or was not reused: its signature, and each part that differs from the nearest earlier job of its step',
    params: idParams('job'),
    success: {
      status: 200,
      description: 'The decision, its reason and the comparison',
      body: Commands.explainReuse.response,
    },
    errors: read,
  }),
  getJobMetrics: route({
    method: 'GET',
    path: '/api/v1/jobs/{id}/metrics',
    tag: 'jobs',
    auth: 'read',
    summary: 'The metrics the job printed, as series by name',
    params: idParams('job'),
    query: MetricsQuerySchema,
    success: { status: 200, description: 'Series by name', body: Commands.getJobMetrics.response },
    errors: read,
  }),
  streamEvents: route({
    method: 'GET',
    path: '/api/v1/events',
    tag: 'events',
    auth: 'read',
    summary: 'The project’s events, live (Server-Sent Events)',
    description:
      'Each event: `id:` its log position, `event:` its type, `data:` its envelope as one line of JSON. A `: heartbeat` comment every ACAI_SSE_HEARTBEAT_MS. Reconnect with `Last-Event-ID` (or `after`) to resume with no gap and no duplicate. Filters combine (AND). Event types and fields: /api/asyncapi.json.',
    query: EventsQuerySchema,
    success: { status: 200, description: 'An endless event stream', body: 'sse' },
    errors: [400, 401],
  }),
  createSubscriberCredentials: route({
    method: 'POST',
    path: '/api/v1/projects/{name}/subscriber-credentials',
    tag: 'events',
    auth: 'admin',
    summary: 'NATS credentials that may read the project’s events and nothing else',
    description:
      'A NATS user (the password shown once) that may hear `acai.evt.<project>.>` and read and acknowledge its own durable consumer of the events stream (events from now on, kept while it is away); it cannot publish, make consumers or read another project. Set the client’s `inboxPrefix` to the one answered. 503 when the gateway cannot change nats-server’s users (ACAI_NATS_AUTH_DIR unset).',
    params: ProjectParams,
    success: {
      status: 201,
      description: 'The credentials, shown once',
      body: SubscriberCredentialsSchema,
    },
    errors: [404, 503],
  }),
  listSubscriberCredentials: route({
    method: 'GET',
    path: '/api/v1/projects/{name}/subscriber-credentials',
    tag: 'events',
    auth: 'admin',
    summary: 'The project’s subscriber credentials (never their passwords)',
    params: ProjectParams,
    success: {
      status: 200,
      description: 'Its subscribers',
      body: z.object({ items: z.array(SubscriberViewSchema) }),
    },
    errors: [404, 503],
  }),
  revokeSubscriberCredentials: route({
    method: 'DELETE',
    path: '/api/v1/projects/{name}/subscriber-credentials/{user}',
    tag: 'events',
    auth: 'admin',
    summary:
      'Revoke subscriber credentials: the NATS user is removed (its connections closed) and its consumer deleted',
    params: z.object({ name: CreateProjectSchema.shape.name, user: SubscriberUserSchema }),
    success: { status: 200, description: 'The revoked credentials', body: SubscriberViewSchema },
    errors: [400, 404, 503],
  }),
  getJobLogs: route({
    method: 'GET',
    path: '/api/v1/jobs/{id}/logs',
    tag: 'jobs',
    auth: 'read',
    summary: 'The job’s output',
    description:
      'Plain text by default (stderr lines too, in order); `format=json` gives one `{t, s, l}` per line; `follow=true` streams until the job ends.',
    params: idParams('job'),
    query: LogsQuerySchema,
    success: { status: 200, description: 'Its output lines', body: 'text' },
    errors: read,
  }),
  getLineage: route({
    method: 'GET',
    path: '/api/v1/lineage',
    tag: 'lineage',
    auth: 'read',
    summary: 'The lineage of a file set version or a job, up- or downstream',
    description:
      'Start at `fileset` and `version`, or at `job`. Answers the start, the nodes reached within `depth` edges (each with its shortest `depth`), in order of depth then id, a page at a time, and the edges among them (each edge once over all pages, on the page of its later end).',
    query: LineageQuerySchema,
    success: { status: 200, description: 'A page of the walk', body: Commands.getLineage.response },
    errors: read,
  }),
  getExperimentGraph: route({
    method: 'GET',
    path: '/api/v1/experiment-graph',
    tag: 'lineage',
    auth: 'read',
    summary:
      'The experiment graph of a run (`?run=`) or of the project: operations and the artifacts between them',
    description:
      'Operations are jobs, a page at a time in log order, each with the artifacts it read and made (or, reused, took); artifacts are file set versions with their size, the seconds the job that made them ran, how often they were read or reused, and the best `quality` metric of the models they lead to: what the materializer weighs.',
    query: ExperimentGraphQuerySchema,
    success: {
      status: 200,
      description: 'A page of the graph',
      body: Commands.getExperimentGraph.response,
    },
    errors: read,
  }),
  getImpact: route({
    method: 'GET',
    path: '/api/v1/lineage/impact',
    tag: 'lineage',
    auth: 'read',
    summary: 'What depends on a file set version, and what to recompute if it is bad',
    description: `Every job and version downstream (to ${LINEAGE_MAX_DEPTH} edges), in order of \`level\` (the longest way from the version) then id: a job comes after every job it depends on, so the jobs, in this order, are the steps to recompute.`,
    query: ImpactQuerySchema,
    success: {
      status: 200,
      description: 'A page of what depends on it',
      body: Commands.getImpact.response,
    },
    errors: read,
  }),
  createFileset: route({
    method: 'POST',
    path: '/api/v1/filesets',
    tag: 'filesets',
    auth: 'write',
    summary: 'Create a file set',
    body: CreateFilesetRequestSchema,
    success: { status: 201, description: 'Created', body: Commands.createFileset.response },
    errors: [400, 401, 409, 415],
  }),
  searchFilesets: route({
    method: 'GET',
    path: '/api/v1/filesets',
    tag: 'filesets',
    auth: 'read',
    summary: 'Search file sets by name prefix, labels and metadata',
    query: 'search',
    success: {
      status: 200,
      description: 'A page of file sets',
      body: Commands.searchFilesets.response,
    },
    errors: [400, 401],
  }),
  getFileset: route({
    method: 'GET',
    path: '/api/v1/filesets/{name}',
    tag: 'filesets',
    auth: 'read',
    summary: 'A file set, its metadata, labels and versions',
    params: FilesetParams,
    success: { status: 200, description: 'The file set', body: Commands.getFileset.response },
    errors: read,
  }),
  commitVersion: route({
    method: 'POST',
    path: '/api/v1/filesets/{name}/versions',
    tag: 'filesets',
    auth: 'write',
    summary: 'Commit the next version',
    description:
      'On top of `parent`: files to put (uploaded first, by sha256) and paths to delete. `409` if another commit came first: nothing is lost, commit again on the new version.',
    params: FilesetParams,
    body: CommitRequestSchema.omit({ changesSha256: true }),
    success: { status: 201, description: 'The new version', body: Commands.commitVersion.response },
    errors: [...write, 413],
  }),
  getVersion: route({
    method: 'GET',
    path: '/api/v1/filesets/{name}/versions/{ref}',
    tag: 'filesets',
    auth: 'read',
    summary: 'A version: a number, `latest` or a label',
    params: VersionParams,
    success: { status: 200, description: 'The version', body: Commands.getVersion.response },
    errors: read,
  }),
  listFiles: route({
    method: 'GET',
    path: '/api/v1/filesets/{name}/versions/{ref}/files',
    tag: 'filesets',
    auth: 'read',
    summary: 'The files of a version, by path',
    params: VersionParams,
    query: FilesQuerySchema,
    success: { status: 200, description: 'A page of files', body: Commands.listFiles.response },
    errors: read,
  }),
  getFile: route({
    method: 'GET',
    path: '/api/v1/filesets/{name}/versions/{ref}/files/{path+}',
    tag: 'filesets',
    auth: 'read',
    summary: 'One file’s bytes',
    description:
      'Honours `Range: bytes=a-b` (206) and answers 416 for a range outside the file. `ETag` and `X-Content-Sha256` are its sha256. Served with its media type, `X-Content-Type-Options: nosniff` and a sandboxing `Content-Security-Policy`; a type a browser would render or run (HTML, SVG, XML, JavaScript) comes as `Content-Disposition: attachment`.',
    params: VersionParams.extend({ path: FilePathSchema }),
    success: { status: 200, description: 'The bytes', body: 'binary' },
    errors: [...read, 416],
  }),
  getArchive: route({
    method: 'GET',
    path: '/api/v1/filesets/{name}/versions/{ref}/archive',
    tag: 'filesets',
    auth: 'read',
    summary: 'A whole version as a tar stream, files in path order',
    params: VersionParams,
    success: { status: 200, description: 'A tar stream', body: 'tar' },
    errors: read,
  }),
  diffVersions: route({
    method: 'GET',
    path: '/api/v1/filesets/{name}/diff',
    tag: 'filesets',
    auth: 'read',
    summary: 'Paths added, removed and changed between two versions',
    params: FilesetParams,
    query: DiffQuerySchema,
    success: { status: 200, description: 'The differences', body: Commands.diffVersions.response },
    errors: read,
  }),
  changeMetadata: route({
    method: 'PATCH',
    path: '/api/v1/filesets/{name}/metadata',
    tag: 'filesets',
    auth: 'write',
    summary: 'Set, merge or remove metadata of a file set or (`?version=N`) one of its versions',
    params: FilesetParams,
    query: TargetQuerySchema,
    body: MetadataChangeSchema,
    success: { status: 200, description: 'The file set', body: Commands.changeMetadata.response },
    errors: write,
  }),
  changeLabels: route({
    method: 'PATCH',
    path: '/api/v1/filesets/{name}/labels',
    tag: 'filesets',
    auth: 'write',
    summary: 'Add and remove labels of a file set or (`?version=N`) one of its versions',
    params: FilesetParams,
    query: TargetQuerySchema,
    body: LabelsChangeSchema,
    success: { status: 200, description: 'The file set', body: Commands.changeLabels.response },
    errors: write,
  }),
  evictVersion: route({
    method: 'POST',
    path: '/api/v1/filesets/{name}/versions/{version}/evict',
    tag: 'filesets',
    auth: 'write',
    summary: 'Remove a version’s bytes (those no other live version uses)',
    description: 'Its manifest and lineage stay. `409` if it is pinned.',
    params: NumberedVersionParams,
    body: EvictBodySchema,
    success: {
      status: 200,
      description: 'The evicted version',
      body: Commands.evictVersion.response,
    },
    errors: write,
  }),
  pinVersion: route({
    method: 'PUT',
    path: '/api/v1/filesets/{name}/versions/{version}/pin',
    tag: 'filesets',
    auth: 'write',
    summary: 'Pin a version: it is never evicted',
    params: NumberedVersionParams,
    success: { status: 200, description: 'The version', body: Commands.pinVersion.response },
    errors: read,
  }),
  unpinVersion: route({
    method: 'DELETE',
    path: '/api/v1/filesets/{name}/versions/{version}/pin',
    tag: 'filesets',
    auth: 'write',
    summary: 'Unpin a version',
    params: NumberedVersionParams,
    success: { status: 200, description: 'The version', body: Commands.pinVersion.response },
    errors: read,
  }),
  searchVersions: route({
    method: 'GET',
    path: '/api/v1/versions',
    tag: 'filesets',
    auth: 'read',
    summary: 'Search versions of every file set: labels, metadata, time, creator',
    query: 'search',
    success: {
      status: 200,
      description: 'A page of versions',
      body: Commands.searchVersions.response,
    },
    errors: [400, 401],
  }),
  uploadBlob: route({
    method: 'PUT',
    path: '/api/v1/blobs/{sha256}',
    tag: 'filesets',
    auth: 'write',
    summary: 'Upload a file whose sha256 you state',
    description:
      'Streamed and hashed as it arrives; a different sha256 is `400`, too large `413`, and nothing is kept. Counted against the project’s storage quota (bytes it has already count once): an upload larger than the quota is `413` (UPLOAD_OVER_QUOTA), one that would take the project over it `507` (STORAGE_QUOTA_EXCEEDED), both with `usedBytes`, `quotaBytes` and `uploadBytes`, before a byte is read when `Content-Length` says so. An upload no version uses is forgotten after a grace period (a day by default; uploading it again starts it again).',
    params: z.object({ sha256: Sha256Schema }),
    body: 'binary',
    success: { status: 201, description: 'Stored', body: BlobSchema },
    errors: [400, 401, 413, 507],
  }),
  uploadBlobHashed: route({
    method: 'POST',
    path: '/api/v1/blobs',
    tag: 'filesets',
    auth: 'write',
    summary: 'Upload a file and get its sha256',
    description:
      'Counted against the project’s storage quota like `PUT /blobs/{sha256}`, but its sha256 is known only once it is read: an upload that would take the project over its quota is refused (`507`) once read, and nothing is kept.',
    body: 'binary',
    success: { status: 201, description: 'Stored', body: BlobSchema },
    errors: [400, 401, 413, 507],
  }),
  listOffers: route({
    method: 'GET',
    path: '/api/v1/instance-types',
    tag: 'resources',
    auth: 'read',
    summary: 'Every configuration the enabled providers offer, priced, and the EC2 catalogue',
    success: { status: 200, description: 'The offers', body: Commands.listOffers.response },
    errors: [401],
  }),
  listNodes: route({
    method: 'GET',
    path: '/api/v1/nodes',
    tag: 'resources',
    auth: 'read',
    summary: 'Nodes running executors, and instances still booting',
    description:
      'Each node lists the jobs it runs: a project key sees only its own project’s jobs, the platform admin key every job.',
    success: { status: 200, description: 'The nodes', body: Commands.listNodes.response },
    errors: [401],
  }),
  planProvisioning: route({
    method: 'POST',
    path: '/api/v1/provision/plan',
    tag: 'resources',
    auth: 'read',
    summary: 'What the auto-provisioner would choose for a step, and why, without running it',
    body: StepSpecSchema,
    success: { status: 200, description: 'The plan', body: Commands.planProvisioning.response },
    errors: [400, 401, 404, 415],
  }),
  createProject: route({
    method: 'POST',
    path: '/api/v1/projects',
    tag: 'admin',
    auth: 'platform',
    summary: 'Create a project; answers its first API key, shown once',
    body: CreateProjectSchema,
    success: { status: 201, description: 'The project and its key', body: CreatedProjectSchema },
    errors: [400, 401, 403, 409, 415],
  }),
  createKey: route({
    method: 'POST',
    path: '/api/v1/projects/{name}/keys',
    tag: 'keys',
    auth: 'admin',
    summary: 'Create an API key of the project with a scope; answers the key, shown once',
    description:
      '`read` may call the GET routes of the project, `write` also change its resources (upload, commit, submit and cancel runs), `admin` also manage its keys. Needs an admin key of the project (or the platform admin key).',
    params: ProjectParams,
    body: CreateKeyRequestSchema,
    success: { status: 201, description: 'The key, shown once', body: CreatedKeySchema },
    errors: [400, 404, 415],
  }),
  listKeys: route({
    method: 'GET',
    path: '/api/v1/projects/{name}/keys',
    tag: 'keys',
    auth: 'admin',
    summary: 'The project’s API keys, revoked ones too, oldest first; never a key or its hash',
    params: ProjectParams,
    success: {
      status: 200,
      description: 'Its keys',
      body: z.object({ items: z.array(KeyViewSchema) }),
    },
    errors: [400, 404],
  }),
  revokeKey: route({
    method: 'DELETE',
    path: '/api/v1/projects/{name}/keys/{id}',
    tag: 'keys',
    auth: 'admin',
    summary: 'Revoke an API key: from the next request on, on every gateway, it is refused (401)',
    description:
      'Revoking a revoked key changes nothing and answers it again. `503` if the other gateway replicas could not be told at once (the key is revoked; they refuse it within 60 s): revoke it again.',
    params: KeyParams,
    success: { status: 200, description: 'The revoked key', body: KeyViewSchema },
    errors: [400, 404, 503],
  }),
  putSecret: route({
    method: 'PUT',
    path: '/api/v1/projects/{name}/secrets/{secret}',
    tag: 'secrets',
    auth: 'admin',
    summary:
      'Create or replace a secret of the project; its value is stored encrypted and never shown',
    description:
      'A step names it in `secrets` (`{"HF_TOKEN": "hf-token"}`): the job finds it in that environment variable, and no event, log line of acai, version or answer ever holds the value. Needs an admin key of the project; `503` when the gateway has no ACAI_SECRETS_KEY.',
    params: SecretParams,
    body: PutSecretRequestSchema,
    success: { status: 200, description: 'The secret, without its value', body: SecretViewSchema },
    errors: [400, 404, 415, 503],
  }),
  listSecrets: route({
    method: 'GET',
    path: '/api/v1/projects/{name}/secrets',
    tag: 'secrets',
    auth: 'write',
    summary: 'The names of the project’s secrets, never their values',
    params: ProjectParams,
    success: {
      status: 200,
      description: 'Its secrets',
      body: z.object({ items: z.array(SecretViewSchema) }),
    },
    errors: [400, 404],
  }),
  deleteSecret: route({
    method: 'DELETE',
    path: '/api/v1/projects/{name}/secrets/{secret}',
    tag: 'secrets',
    auth: 'admin',
    summary: 'Delete a secret of the project; jobs that name it fail to start from now on',
    params: SecretParams,
    success: { status: 200, description: 'The deleted secret', body: SecretViewSchema },
    errors: [400, 404],
  }),
  getProjectUsage: route({
    method: 'GET',
    path: '/api/v1/projects/{name}/usage',
    tag: 'storage',
    auth: 'read',
    summary: 'The bytes the project stores and its storage quota',
    description:
      '`usedBytes` counts the distinct blobs the project has: uploaded, written by its jobs, used by its versions (bytes another project has too count for both). Evicting versions lowers it; uploads no version uses are forgotten after a grace period.',
    params: ProjectParams,
    success: { status: 200, description: 'Its storage', body: StorageViewSchema },
    errors: [400, 404],
  }),
  setProjectQuota: route({
    method: 'PUT',
    path: '/api/v1/projects/{name}/quota',
    tag: 'storage',
    auth: 'platform',
    summary: 'Set the project’s storage quota: a number of bytes, 0 for none, null for the default',
    description:
      'Uploads past it are refused (`413`, `507`); what the project stores already stays, even over a lowered quota. The default is the catalog’s `ACAI_PROJECT_QUOTA_BYTES` (0: none).',
    params: ProjectParams,
    body: SetQuotaRequestSchema,
    success: { status: 200, description: 'Its storage', body: StorageViewSchema },
    errors: [400, 401, 403, 404, 415],
  }),
  getStorageBudget: route({
    method: 'GET',
    path: '/api/v1/projects/{name}/storage-budget',
    tag: 'storage',
    auth: 'read',
    summary:
      'The project’s storage budget for derived artifacts (versions its jobs made) and where it stands',
    params: ProjectParams,
    success: { status: 200, description: 'Its budget', body: StorageBudgetViewSchema },
    errors: [400, 404],
  }),
  setStorageBudget: route({
    method: 'PUT',
    path: '/api/v1/projects/{name}/storage-budget',
    tag: 'storage',
    auth: 'admin',
    summary:
      'Set the project’s storage budget for derived artifacts: the materializer keeps those of highest utility within it and evicts the rest',
    description:
      'Utility weighs the quality of the models an artifact leads to (a step’s `quality` metric) against the seconds recomputing it would take × its uses, per byte (`alpha`, 0.5, the weight of quality). Never evicted: versions no job made, pinned versions, inputs of jobs not ended, what runs not ended made or reused. A `policy` of `lru` keeps the most recently used instead (the baseline). The project is weighed at once (the answer is after), then every `ACAI_MATERIALIZE_INTERVAL_MS`. Each eviction is a `fileset.version_evicted` with the decision. Needs an admin key of the project.',
    params: ProjectParams,
    body: SetStorageBudgetSchema,
    success: {
      status: 200,
      description: 'Its budget, after weighing',
      body: StorageBudgetViewSchema,
    },
    errors: [400, 401, 403, 404, 415],
  }),
  replayProjection: route({
    method: 'POST',
    path: '/api/v1/projections/{name}/replay',
    tag: 'admin',
    auth: 'platform',
    summary:
      'Rebuild a read model (`runs`, `jobs`, `job-history`, `run-trials`, `job-metrics`, `run-timeline`, `job-signatures`, `lineage`) from the whole log, beside the live one (which readers keep seeing) and swapped in when it has caught up; answers at once, progress on GET /api/v1/projections/{name}',
    params: z.object({ name: z.string().min(1).max(100) }),
    success: {
      status: 202,
      description: 'Replay started',
      body: Commands.replayProjection.response,
    },
    errors: [401, 403, 404, 409],
  }),
  getProjection: route({
    method: 'GET',
    path: '/api/v1/projections/{name}',
    tag: 'admin',
    auth: 'platform',
    summary:
      'A read model: how far it has applied the log, and its latest replay (status, events done of total)',
    params: z.object({ name: z.string().min(1).max(100) }),
    success: { status: 200, description: 'The read model', body: Commands.getProjection.response },
    errors: [401, 403, 404],
  }),
  listDeadLetters: route({
    method: 'GET',
    path: '/api/v1/admin/dead-letters',
    tag: 'admin',
    auth: 'platform',
    summary: 'Dead letters of every service: events a consumer gave up on, oldest first',
    description:
      'What each is (service, consumer, subject, sequence, event type), why (reason, the last error) and when; `payload=true` adds the events themselves. Services that did not answer within a few seconds are named in `unanswered`, and their letters are not in the page. docs/operations.md says what to do with them.',
    query: DeadLettersQuerySchema,
    success: { status: 200, description: 'A page of letters', body: DeadLetterListSchema },
    errors: [400, 401, 403],
  }),
  redriveDeadLetter: route({
    method: 'POST',
    path: '/api/v1/admin/dead-letters/{id}/redrive',
    tag: 'admin',
    auth: 'platform',
    summary: 'Redrive a dead letter: its consumer handles the event again',
    description:
      'Answered once the letter is taken back: it goes away once handled, or stays with `redrives` one higher if it fails again. A projection’s letter is taken back by rebuilding the projection from the log. `409` if it is being redriven already, or no running replica has its consumer.',
    params: z.object({ id: z.uuid().describe('dead letter id') }),
    success: { status: 202, description: 'Taken back', body: RedriveResultSchema },
    errors: [400, 401, 403, 404, 409],
  }),
  redriveDeadLetters: route({
    method: 'POST',
    path: '/api/v1/admin/dead-letters/redrive',
    tag: 'admin',
    auth: 'platform',
    summary: 'Redrive every dead letter, or those of a service, a consumer or a reason',
    description:
      'The body filters (`{}`: all of them). At most 500 per service at a time: `remaining` says how many are left.',
    body: RedriveDeadLettersBodySchema,
    success: { status: 202, description: 'Taken back', body: RedriveResultSchema },
    errors: [400, 401, 403, 415],
  }),
  openApi: route({
    method: 'GET',
    path: '/api/openapi.json',
    tag: 'docs',
    auth: 'public',
    summary: 'This document',
    success: { status: 200, description: 'OpenAPI 3.1', body: z.record(z.string(), z.unknown()) },
    errors: [],
  }),
  asyncApi: route({
    method: 'GET',
    path: '/api/asyncapi.json',
    tag: 'docs',
    auth: 'public',
    summary:
      'The event catalogue: every event type and version with its fields, and its NATS subjects',
    success: { status: 200, description: 'AsyncAPI 3.0', body: z.record(z.string(), z.unknown()) },
    errors: [],
  }),
  apiDocs: route({
    method: 'GET',
    path: '/api/docs',
    tag: 'docs',
    auth: 'public',
    summary: 'A browsable page of this document',
    success: { status: 200, description: 'Swagger UI', body: 'html' },
    errors: [],
  }),
  apiDocsAssets: route({
    method: 'GET',
    path: '/api/docs/assets/{file}',
    tag: 'docs',
    auth: 'public',
    summary: 'The browsable page’s script and style',
    params: z.object({ file: z.enum(['swagger-ui.css', 'swagger-ui-bundle.js']) }),
    success: { status: 200, description: 'The file', body: 'text' },
    errors: [400],
  }),
} as const satisfies Record<string, RouteSpec>;

export type RouteName = keyof typeof Routes;

export const ROUTE = 'acai:route';

/** The route spec a controller method was bound to, if any. */
export function routeOf(handler: object): RouteSpec | undefined {
  return Reflect.getMetadata(ROUTE, handler) as RouteSpec | undefined;
}

type WithParams = RouteSpec & { readonly params: z.ZodObject };
type WithQuery = RouteSpec & { readonly query: z.ZodObject };
type WithBody = RouteSpec & { readonly body: z.ZodType };

/** The path parameters of a request to this route, checked with its schema (400 naming them). */
export function pathOf<R extends WithParams>(route: R, raw: unknown): z.output<R['params']> {
  return parseOrThrow(route.params, raw ?? {}, 'path') as z.output<R['params']>;
}

/** The query of a request to this route, checked with its schema. */
export function queryOf<R extends WithQuery>(route: R, raw: unknown): z.output<R['query']> {
  return parseOrThrow(route.query, raw ?? {}, 'query') as z.output<R['query']>;
}

/**
 * How deep arrays and objects may nest in a JSON body. Deeper bodies are refused at the edge, before
 * anything (a structured clone, a JSON encoder, a deep comparison) walks them recursively and runs
 * out of stack.
 */
export const MAX_JSON_DEPTH = 64;

/** Whether arrays and objects nest deeper than `limit` in a parsed JSON value (without recursion). */
function nestsDeeperThan(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [current, depth] = next;
    if (typeof current !== 'object' || current === null) continue;
    if (depth > limit) return true;
    for (const child of Object.values(current)) stack.push([child, depth + 1]);
  }
  return false;
}

/** The JSON body of a request to this route, checked with its schema. */
export function bodyOf<R extends WithBody>(
  route: R,
  raw: unknown,
  what: string,
): z.output<R['body']> {
  if (raw === undefined || raw === null || typeof raw !== 'object') {
    throw new AcaiError(
      CommonProblems.INVALID_REQUEST,
      `Send the ${what} as a JSON object in the body (content-type: application/json)`,
    );
  }
  if (nestsDeeperThan(raw, MAX_JSON_DEPTH)) {
    throw new AcaiError(
      CommonProblems.INVALID_REQUEST,
      `The ${what} nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep; flatten it`,
    );
  }
  return parseOrThrow(route.body, raw, what) as z.output<R['body']>;
}

/** Nest's path for an OpenAPI path: `{name}` → `:name`, a trailing `{path+}` → `*`. */
export function nestPath(path: string): string {
  return path.replace(/\{(\w+)\+\}$/, '*').replace(/\{(\w+)\}/g, ':$1');
}

/** Binds a controller method to a route of the table: its method, path and success status. */
export function Route(spec: RouteSpec): MethodDecorator {
  return applyDecorators(
    RequestMapping({ method: RequestMethod[spec.method], path: nestPath(spec.path) }),
    HttpCode(spec.success.status),
    SetMetadata(ROUTE, spec),
  );
}
