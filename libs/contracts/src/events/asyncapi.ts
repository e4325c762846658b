import { z } from 'zod';
import { defaultTopology, type Topology } from '../subjects.js';
import { eventCatalogue } from './catalogue.js';
import { EventEnvelopeSchema } from './envelope.js';

type Json = Record<string, unknown>;

/** What the last token of each aggregate's subject is. */
const AGGREGATE_IDS: Readonly<Record<string, string>> = {
  run: 'The run id (`run-…`)',
  job: 'The job id (`job-…`)',
  fileset: 'The file set name',
  profile: 'The signature of the step being profiled',
};

/** The key of an event's message: `job.succeeded.v1`. */
export function asyncApiMessageKey(type: string, version: number): string {
  return `${type}.v${version}`;
}

function jsonSchema(schema: z.ZodType): Json {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, {
    // As they are on the wire: fields added compatibly may be absent from older events.
    io: 'input',
    target: 'draft-7',
    unrepresentable: 'any',
  });
  return rest;
}

/**
 * The event catalogue as an AsyncAPI 3.0 document: one channel per aggregate (its NATS subject,
 * `<prefix>.evt.<project>.<aggregate>.<id>`, on stream `<events>`), one message per event type and
 * version with the envelope and every field of its data, generated from the zod schemas (served at
 * `/api/asyncapi.json`; a unit test validates it and holds docs/events.md against the same schemas).
 */
export function asyncApiDocument(t: Topology = defaultTopology): Json {
  const envelope = jsonSchema(EventEnvelopeSchema) as { properties: Json; required: string[] };
  const aggregates = [...new Set(eventCatalogue.map((d) => d.aggregate))];
  const messages: Json = {};
  for (const def of eventCatalogue) {
    messages[asyncApiMessageKey(def.type, def.version)] = {
      name: def.type,
      title: `${def.type} v${def.version}`,
      summary: def.description,
      contentType: 'application/json',
      headers: {
        type: 'object',
        properties: {
          'Acai-Type': { type: 'string', const: def.type, description: 'The event type' },
          traceparent: { type: 'string', description: 'W3C trace context of the decision' },
        },
      },
      payload: {
        type: 'object',
        description: def.description,
        properties: {
          ...envelope.properties,
          type: { type: 'string', const: def.type },
          version: { type: 'integer', const: def.version },
          aggregate: { type: 'string', const: def.aggregate },
          data: jsonSchema(def.schema),
        },
        required: envelope.required,
      },
      'x-acai-type': def.type,
      'x-acai-version': def.version,
      'x-acai-writers': def.writers,
    };
  }
  const channels: Json = {};
  const operations: Json = {};
  for (const aggregate of aggregates) {
    const own = eventCatalogue.filter((d) => d.aggregate === aggregate);
    channels[aggregate] = {
      address: `${t.prefix}.evt.{project}.${aggregate}.{id}`,
      title: `${aggregate} events`,
      description: `Every event of one ${aggregate}, on JetStream stream \`${t.streams.events}\`; its position in the stream is the \`id\` of GET /api/v1/events. Subscribe to \`${t.prefix}.evt.<project>.${aggregate}.*\` for all of a project's.`,
      parameters: {
        project: { description: 'The project' },
        id: { description: AGGREGATE_IDS[aggregate] ?? `The ${aggregate}'s id` },
      },
      messages: Object.fromEntries(
        own.map((d) => {
          const key = asyncApiMessageKey(d.type, d.version);
          return [key, { $ref: `#/components/messages/${key}` }];
        }),
      ),
    };
    operations[`receive-${aggregate}`] = {
      action: 'receive',
      title: `Hear ${aggregate} events`,
      channel: { $ref: `#/channels/${aggregate}` },
      messages: own.map((d) => ({
        $ref: `#/channels/${aggregate}/messages/${asyncApiMessageKey(d.type, d.version)}`,
      })),
    };
  }
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'acai events',
      version: '1',
      description:
        'Every event acai publishes, by type and version, generated from the zod schemas of libs/contracts. Read them live over HTTP with `GET /api/v1/events` (Server-Sent Events), or on NATS with subscriber credentials (`POST /api/v1/projects/{name}/subscriber-credentials`). A published version never changes; a change is a new version.',
    },
    defaultContentType: 'application/json',
    servers: {
      nats: {
        host: 'localhost:4222',
        protocol: 'nats',
        description: 'The nats-server of the deployment (JetStream)',
      },
    },
    channels,
    operations,
    components: { messages },
  };
}
