import { z } from 'zod';
import {
  CommitRequestSchema,
  CreateFilesetRequestSchema,
  LabelsChangeSchema,
  MetadataChangeSchema,
  HistoryEntrySchema,
  JobViewSchema,
  PageSchema,
  RunSpecSchema,
  RunViewSchema,
  StepSpecSchema,
  SubmitRunResponseSchema,
} from '@acai/contracts';

const ErrorSchema = z.object({
  error: z.object({
    code: z.enum([
      'VALIDATION_FAILED',
      'NOT_FOUND',
      'CONFLICT',
      'UNAUTHENTICATED',
      'PAYLOAD_TOO_LARGE',
      'UNSUPPORTED_MEDIA_TYPE',
      'UNAVAILABLE',
      'INTERNAL',
    ]),
    message: z.string(),
    details: z.array(z.object({ path: z.string().optional(), message: z.string() })).optional(),
  }),
});

const schema = (s: z.ZodType) => z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' });
const json = (s: z.ZodType, description: string) => ({
  description,
  content: { 'application/json': { schema: schema(s) } },
});
const errors = {
  '400': json(ErrorSchema, 'The request is invalid; `details` names each bad field'),
  '401': json(ErrorSchema, 'Missing or wrong API key'),
  '404': json(ErrorSchema, 'No such thing in this project'),
};
const nameParam = {
  name: 'name',
  in: 'path',
  required: true,
  schema: { type: 'string' },
  description: 'File set name',
};
const refParam = {
  name: 'ref',
  in: 'path',
  required: true,
  schema: { type: 'string' },
  description: 'A version number, `latest`, or a label such as `prod`',
};
const anyJson = (description: string) => ({
  description,
  content: { 'application/json': { schema: {} } },
});
const stream = {
  required: true,
  content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
};
const searchParams = [
  {
    name: 'prefix',
    in: 'query',
    schema: { type: 'string' },
    description: 'Name prefix (also `name`, `fileset`)',
  },
  {
    name: 'label',
    in: 'query',
    schema: { type: 'array', items: { type: 'string' } },
    description: 'All of these labels',
  },
  {
    name: 'anyLabel',
    in: 'query',
    schema: { type: 'array', items: { type: 'string' } },
    description: 'Any of these labels',
  },
  {
    name: 'meta.<path>[op]',
    in: 'query',
    schema: { type: 'string' },
    description:
      'Metadata predicate: `meta.task=digits`, `meta.metrics.accuracy[gte]=0.9` (gt, gte, lt, lte), `meta.x[exists]=true`, `meta.tags[contains]=cnn`',
  },
  { name: 'createdAfter', in: 'query', schema: { type: 'string', format: 'date-time' } },
  { name: 'createdBefore', in: 'query', schema: { type: 'string', format: 'date-time' } },
  { name: 'sort', in: 'query', schema: { type: 'string', enum: ['created', '-created', 'name'] } },
  { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500 } },
  { name: 'cursor', in: 'query', schema: { type: 'string' } },
];
const BlobReply = z.object({ sha256: z.string(), size: z.number() });
const idParam = (what: string) => ({
  name: 'id',
  in: 'path',
  required: true,
  schema: { type: 'string' },
  description: `${what} id`,
});

/** The REST API, described from the same zod schemas the gateway validates with. */
export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'acai',
      version: '1',
      description:
        'acai REST API. Every call needs `Authorization: Bearer <key>`; a key sees only its own project. `npm run up` writes the default project key to `$ACAI_HOME/default.key`.',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths: {
      '/api/v1/runs': {
        post: {
          summary: 'Submit a run',
          description: 'Steps run in `needs` order, each command as an argv with no shell.',
          requestBody: {
            required: true,
            content: { 'application/json': { schema: schema(RunSpecSchema) } },
          },
          responses: {
            '202': json(SubmitRunResponseSchema, 'Accepted: the run and its job ids'),
            ...errors,
            '413': json(ErrorSchema, 'Body too large'),
          },
        },
        get: {
          summary: 'List runs, newest first',
          parameters: [
            {
              name: 'limit',
              in: 'query',
              schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
            },
            {
              name: 'cursor',
              in: 'query',
              schema: { type: 'string' },
              description: '`nextCursor` of the previous page',
            },
          ],
          responses: { '200': json(PageSchema(RunViewSchema), 'A page of runs'), ...errors },
        },
      },
      '/api/v1/runs/{id}': {
        get: {
          summary: 'A run and its jobs',
          parameters: [idParam('Run')],
          responses: { '200': json(RunViewSchema, 'The run'), ...errors },
        },
      },
      '/api/v1/runs/{id}/cancel': {
        post: {
          summary: 'Cancel a run',
          description:
            'Queued jobs are cancelled and running ones stopped; the run ends `cancelled`.',
          parameters: [idParam('Run')],
          responses: {
            '202': json(z.object({ id: z.string() }), 'Cancelling'),
            ...errors,
            '409': json(ErrorSchema, 'The run already ended'),
          },
        },
      },
      '/api/v1/jobs/{id}': {
        get: {
          summary: 'A job',
          parameters: [idParam('Job')],
          responses: { '200': json(JobViewSchema, 'The job'), ...errors },
        },
      },
      '/api/v1/jobs/{id}/history': {
        get: {
          summary: 'Every event of a job, in order',
          parameters: [idParam('Job')],
          responses: { '200': json(z.array(HistoryEntrySchema), 'The history'), ...errors },
        },
      },
      '/api/v1/jobs/{id}/metrics': {
        get: {
          summary:
            'The metrics the job printed (`##acai metric name=value step=N`), as series by name',
          parameters: [idParam('Job'), { name: 'name', in: 'query', schema: { type: 'string' } }],
          responses: {
            '200': anyJson('`{ series: { <name>: [{ step, value, time, attempt }] } }`'),
            ...errors,
          },
        },
      },
      '/api/v1/jobs/{id}/logs': {
        get: {
          summary: 'The output of a job',
          parameters: [
            idParam('Job'),
            {
              name: 'follow',
              in: 'query',
              schema: { type: 'boolean' },
              description: 'Stream until the job ends',
            },
            {
              name: 'format',
              in: 'query',
              schema: { type: 'string', enum: ['text', 'json'] },
              description: '`json`: one {t,s,l} object per line',
            },
          ],
          responses: {
            '200': {
              description: 'Output lines',
              content: {
                'text/plain': { schema: { type: 'string' } },
                'application/x-ndjson': { schema: { type: 'string' } },
              },
            },
            ...errors,
          },
        },
      },
      '/api/v1/blobs': {
        post: {
          summary: 'Upload a file (streamed); answers its sha256',
          requestBody: stream,
          responses: {
            '201': json(BlobReply, 'Stored'),
            ...errors,
            '413': json(ErrorSchema, 'Over ACAI_MAX_UPLOAD_BYTES; nothing kept'),
          },
        },
      },
      '/api/v1/blobs/{sha256}': {
        put: {
          summary:
            'Upload a file whose sha256 you state; refused, and nothing kept, if the bytes differ',
          parameters: [
            {
              name: 'sha256',
              in: 'path',
              required: true,
              schema: { type: 'string', pattern: '^[0-9a-f]{64}$' },
            },
          ],
          requestBody: stream,
          responses: {
            '201': json(BlobReply, 'Stored (once, whoever uploads the same bytes)'),
            ...errors,
            '413': json(ErrorSchema, 'Too large'),
          },
        },
      },
      '/api/v1/filesets': {
        post: {
          summary: 'Create a file set',
          requestBody: {
            required: true,
            content: { 'application/json': { schema: schema(CreateFilesetRequestSchema) } },
          },
          responses: {
            '201': anyJson('The file set'),
            ...errors,
            '409': json(ErrorSchema, 'The name is taken in this project'),
          },
        },
        get: {
          summary: 'Search file sets by name, labels, metadata and creation time',
          parameters: searchParams,
          responses: { '200': anyJson('A page of file sets'), ...errors },
        },
      },
      '/api/v1/versions': {
        get: {
          summary: 'Search versions of every file set of the project',
          parameters: [
            ...searchParams,
            { name: 'creatorJob', in: 'query', schema: { type: 'string' } },
            { name: 'creatorRun', in: 'query', schema: { type: 'string' } },
            {
              name: 'latest',
              in: 'query',
              schema: { type: 'boolean' },
              description: 'Only each file set’s newest version',
            },
          ],
          responses: { '200': anyJson('A page of versions, newest first'), ...errors },
        },
      },
      '/api/v1/filesets/{name}': {
        get: {
          summary: 'A file set and its versions',
          parameters: [nameParam],
          responses: { '200': anyJson('The file set'), ...errors },
        },
      },
      '/api/v1/filesets/{name}/versions': {
        post: {
          summary:
            'Commit a version on top of `parent`: files to put (uploaded first, by sha256) and paths to delete',
          parameters: [nameParam],
          requestBody: {
            required: true,
            content: { 'application/json': { schema: schema(CommitRequestSchema) } },
          },
          responses: {
            '201': anyJson('The new version'),
            ...errors,
            '409': json(
              ErrorSchema,
              'Another commit came first: commit again on the new latest version',
            ),
          },
        },
      },
      '/api/v1/filesets/{name}/versions/{ref}': {
        get: {
          summary: 'One version',
          parameters: [nameParam, refParam],
          responses: { '200': anyJson('The version'), ...errors },
        },
      },
      '/api/v1/filesets/{name}/versions/{ref}/files': {
        get: {
          summary: 'The files of a version, by path',
          parameters: [
            nameParam,
            refParam,
            { name: 'prefix', in: 'query', schema: { type: 'string' } },
            { name: 'cursor', in: 'query', schema: { type: 'string' } },
          ],
          responses: {
            '200': anyJson('A page of files: path, sha256, size, mediaType'),
            ...errors,
          },
        },
      },
      '/api/v1/filesets/{name}/versions/{ref}/files/{path}': {
        get: {
          summary: 'One file; send `Range: bytes=a-b` for part of it',
          parameters: [
            nameParam,
            refParam,
            {
              name: 'path',
              in: 'path',
              required: true,
              schema: { type: 'string' },
              description: 'May contain /',
            },
          ],
          responses: {
            '200': { description: 'The bytes', content: { 'application/octet-stream': {} } },
            '206': { description: 'The range', content: { 'application/octet-stream': {} } },
            '416': { description: 'The range is outside the file' },
            ...errors,
          },
        },
      },
      '/api/v1/filesets/{name}/versions/{ref}/archive': {
        get: {
          summary: 'A whole version as a tar stream',
          parameters: [nameParam, refParam],
          responses: {
            '200': { description: 'tar', content: { 'application/x-tar': {} } },
            ...errors,
          },
        },
      },
      '/api/v1/filesets/{name}/diff': {
        get: {
          summary: 'Paths added, removed and changed between two versions',
          parameters: [
            nameParam,
            { name: 'from', in: 'query', required: true, schema: { type: 'string' } },
            { name: 'to', in: 'query', required: true, schema: { type: 'string' } },
          ],
          responses: {
            '200': json(
              z.object({
                from: z.number(),
                to: z.number(),
                added: z.array(z.string()),
                removed: z.array(z.string()),
                changed: z.array(z.string()),
              }),
              'The diff',
            ),
            ...errors,
          },
        },
      },
      '/api/v1/filesets/{name}/metadata': {
        patch: {
          summary:
            'Set, merge or remove metadata of the file set, or of a version with `?version=N`',
          parameters: [nameParam, { name: 'version', in: 'query', schema: { type: 'integer' } }],
          requestBody: {
            required: true,
            content: { 'application/json': { schema: schema(MetadataChangeSchema) } },
          },
          responses: { '200': anyJson('The file set'), ...errors },
        },
      },
      '/api/v1/filesets/{name}/labels': {
        patch: {
          summary: 'Add and remove labels of the file set, or of a version with `?version=N`',
          parameters: [nameParam, { name: 'version', in: 'query', schema: { type: 'integer' } }],
          requestBody: {
            required: true,
            content: { 'application/json': { schema: schema(LabelsChangeSchema) } },
          },
          responses: { '200': anyJson('The file set'), ...errors },
        },
      },
      '/api/v1/filesets/{name}/versions/{version}/evict': {
        post: {
          summary: 'Remove a version’s bytes (shared ones stay); its manifest and lineage stay',
          parameters: [
            nameParam,
            { name: 'version', in: 'path', required: true, schema: { type: 'integer' } },
          ],
          requestBody: {
            content: {
              'application/json': { schema: schema(z.object({ reason: z.string().optional() })) },
            },
          },
          responses: {
            '200': anyJson('The evicted version, with deletedBlobs and sharedBlobs'),
            ...errors,
            '409': json(ErrorSchema, 'The version is pinned'),
          },
        },
      },
      '/api/v1/filesets/{name}/versions/{version}/pin': {
        put: {
          summary: 'Pin a version: it is never evicted',
          parameters: [
            nameParam,
            { name: 'version', in: 'path', required: true, schema: { type: 'integer' } },
          ],
          responses: { '200': anyJson('The version'), ...errors },
        },
        delete: {
          summary: 'Unpin a version',
          parameters: [
            nameParam,
            { name: 'version', in: 'path', required: true, schema: { type: 'integer' } },
          ],
          responses: { '200': anyJson('The version'), ...errors },
        },
      },
      '/api/v1/projects': {
        post: {
          summary: 'Create a project and its first API key (admin)',
          requestBody: {
            required: true,
            content: { 'application/json': { schema: schema(z.object({ name: z.string() })) } },
          },
          responses: {
            '201': json(
              z.object({ project: z.string(), keyId: z.string(), key: z.string() }),
              'The project and its key, shown once',
            ),
            ...errors,
            '409': json(ErrorSchema, 'The project exists'),
          },
        },
      },
      '/api/v1/instance-types': {
        get: {
          summary:
            'Every configuration the enabled providers offer (local slots, EC2 types, simulated), priced, and the EC2 catalogue',
          responses: {
            '200': anyJson(
              '`{ providers, offers: [{ provider, name, vCpu, memoryMb, pricePerHour, pool, speed, bootSeconds, spot, gpus }], catalogue, priceSource, localRates }`',
            ),
            ...errors,
          },
        },
      },
      '/api/v1/nodes': {
        get: {
          summary: 'Nodes running executors, from their heartbeats, and instances still booting',
          responses: {
            '200': anyJson(
              '`{ items: [{ id, provider, instanceType, pool, state, cpu, memoryMb, slots, jobs, pricePerHour, launchedAt, lastSeenAt, limits }] }`',
            ),
            ...errors,
          },
        },
      },
      '/api/v1/provision/plan': {
        post: {
          summary: 'What the auto-provisioner would choose for a step, and why, without running it',
          requestBody: {
            required: true,
            content: { 'application/json': { schema: schema(StepSpecSchema) } },
          },
          responses: {
            '200': anyJson(
              '`{ action: run|profile|impossible, success, configuration, expectedSeconds, expectedCost, rule, reason, model: { observations, mape }, alternatives: [...], profiling }`',
            ),
            ...errors,
          },
        },
      },
      '/api/v1/projections/{name}/replay': {
        post: {
          summary: 'Rebuild a read model from the whole event log (admin)',
          parameters: [
            {
              name: 'name',
              in: 'path',
              required: true,
              schema: { type: 'string', enum: ['runs', 'jobs', 'job-history', 'job-metrics'] },
            },
          ],
          responses: {
            '201': json(
              z.object({ projection: z.string(), lastSeq: z.number(), documents: z.number() }),
              'Rebuilt',
            ),
            ...errors,
          },
        },
      },
    },
  };
}
