import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { busPermissions, busPermissionsTable, BUS_SERVICES } from './bus-permissions.js';
import { defaultTopology, isolatedTopology } from './subjects.js';

describe('bus permissions', () => {
  it('docs/bus-permissions.md shows the table the code makes', () => {
    const page = readFileSync(
      path.resolve(import.meta.dirname, '../../../docs/bus-permissions.md'),
      'utf8',
    );
    const table =
      /<!-- bus-permissions-table:start -->\n([\s\S]*?)\n<!-- bus-permissions-table:end -->/.exec(
        page,
      )?.[1];
    const normalise = (text: string) =>
      text
        .split('\n')
        .filter((line) => line.trim() !== '' && !/^\|\s*-/.test(line))
        .map((line) => line.replace(/\s+/g, ' ').trim())
        .join('\n');
    expect(normalise(table ?? '')).toBe(normalise(busPermissionsTable()));
  });

  it('lets nobody delete or purge a stream, and answers commands only for the service itself', () => {
    for (const service of BUS_SERVICES) {
      const { publish, subscribe } = busPermissions(defaultTopology, service);
      expect(
        publish.some((s) => /STREAM\.(DELETE|PURGE)|MSG\.DELETE|^>$|^\$JS\.API\.>$/.test(s)),
      ).toBe(false);
      expect(subscribe.filter((s) => s.startsWith('acai.cmd.'))).toEqual([`acai.cmd.${service}.>`]);
    }
  });

  it('follows the topology: a test prefix and its streams, never production subjects', () => {
    const t = isolatedTopology('abc');
    const { publish } = busPermissions(t, 'executor');
    expect(publish).toContain('tabc.evt.*.job.*');
    expect(publish).toContain('$JS.API.STREAM.INFO.TABC_EVENTS');
    expect(publish.some((s) => s.startsWith('acai.'))).toBe(false);
  });
});
