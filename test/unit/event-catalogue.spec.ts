import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { eventCatalogue } from '@acai/contracts';

const doc = readFileSync(path.resolve(import.meta.dirname, '../../docs/events.md'), 'utf8');

describe('the event catalogue in docs/events.md', () => {
  it.each(eventCatalogue.map((d) => [d.type, d.version] as const))(
    'documents %s v%d',
    (type, version) => {
      expect(doc).toMatch(
        new RegExp(`\\|\\s*\`${type.replace('.', '\\.')}\`\\s*\\|\\s*${version}\\s*\\|`),
      );
    },
  );
});
