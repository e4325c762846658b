import { z } from 'zod';
import {
  HistoryEntrySchema,
  JobViewSchema,
  PageSchema,
  RunSpecSchema,
  RunViewSchema,
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
      '/api/v1/projections/{name}/replay': {
        post: {
          summary: 'Rebuild a read model from the whole event log (admin)',
          parameters: [
            {
              name: 'name',
              in: 'path',
              required: true,
              schema: { type: 'string', enum: ['runs', 'jobs', 'job-history'] },
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
