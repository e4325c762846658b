import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { Parser } from '@asyncapi/parser';
import { z } from 'zod';
import { asyncApiDocument, asyncApiMessageKey, eventCatalogue } from '@acai/contracts';

const doc = readFileSync(path.resolve(import.meta.dirname, '../../docs/events.md'), 'utf8');
const lines = doc.split('\n');

/** The data fields of an event's schema, as zod has them (every catalogue schema is an object). */
function fieldsOf(schema: z.ZodType): string[] {
  expect(schema).toBeInstanceOf(z.ZodObject);
  return Object.keys((schema as z.ZodObject).shape);
}

/** Its row of the tables: `| \`type\` | version | …`. */
function rowOf(type: string, version: number): string | undefined {
  const row = new RegExp(`^\\|\\s*\`${type.replace('.', '\\.')}\`\\s*\\|\\s*${version}\\s*\\|`);
  return lines.find((line) => row.test(line));
}

describe('the event catalogue in docs/events.md', () => {
  it.each(eventCatalogue.map((d) => [d.type, d.version] as const))(
    'documents %s v%d',
    (type, version) => {
      expect(rowOf(type, version)).toBeDefined();
    },
  );

  it('documents every field of every event: in its row, or in a sentence that names the event', () => {
    const undocumented = eventCatalogue.flatMap((d) => {
      const row = rowOf(d.type, d.version) ?? '';
      return fieldsOf(d.schema)
        .filter((field) => {
          const named = new RegExp(`\`${field}(\`|[{[?])`);
          return (
            !named.test(row) &&
            !lines.some((line) => named.test(line) && line.includes(`\`${d.type}\``))
          );
        })
        .map((field) => `${d.type} v${d.version}: ${field}`);
    });
    expect(undocumented).toEqual([]);
  });

  it('has no row for an event the catalogue does not have', () => {
    const known = new Set(eventCatalogue.map((d) => `${d.type}@${d.version}`));
    const rows = lines
      .map((line) => /^\|\s*`([a-z_]+\.[a-z_]+)`\s*\|\s*(\d+)\s*\|/.exec(line))
      .filter((m) => m !== null)
      .map((m) => `${m[1]}@${m[2]}`);
    expect(rows.filter((r) => !known.has(r))).toEqual([]);
    expect(rows.length).toBe(eventCatalogue.length);
  });
});

describe('the AsyncAPI document (/api/asyncapi.json)', () => {
  const document = asyncApiDocument();
  type Message = {
    name: string;
    payload: { properties: Record<string, { const?: unknown; properties?: object }> };
  };
  const messages = (document['components'] as { messages: Record<string, Message> }).messages;
  const channels = document['channels'] as Record<
    string,
    { address: string; messages: Record<string, unknown> }
  >;

  it('is a valid AsyncAPI 3.0 document', async () => {
    const { document: parsed, diagnostics } = await new Parser().parse(JSON.stringify(document));
    // Severity 0 is an error (1 a warning, 2 information, 3 a hint).
    const errors = diagnostics.filter((d) => Number(d.severity) === 0);
    expect(errors.map((d) => `${d.path.join('.')}: ${d.message}`)).toEqual([]);
    expect(parsed?.version()).toBe('3.0.0');
    expect(parsed?.allMessages().length).toBe(eventCatalogue.length);
  });

  it('lists every event type and version with every field of its data, on its subject', () => {
    expect(Object.keys(messages).sort()).toEqual(
      eventCatalogue.map((d) => asyncApiMessageKey(d.type, d.version)).sort(),
    );
    for (const d of eventCatalogue) {
      const message = messages[asyncApiMessageKey(d.type, d.version)]!;
      const { type, version, data } = message.payload.properties;
      expect([d.type, type?.const, version?.const]).toEqual([d.type, d.type, d.version]);
      expect([d.type, Object.keys(data?.properties ?? {}).sort()]).toEqual([
        d.type,
        fieldsOf(d.schema).sort(),
      ]);
      const channel = channels[d.aggregate]!;
      expect(channel.address).toBe(`acai.evt.{project}.${d.aggregate}.{id}`);
      expect(Object.keys(channel.messages)).toContain(asyncApiMessageKey(d.type, d.version));
    }
  });
});
