import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { busPermissions, busPermissionsTable, BUS_ROLES, BUS_SERVICES } from './bus-permissions.js';
import { defaultTopology, isolatedTopology } from './subjects.js';

/** Every command a service's code sends (`.send('name'`), from its sources (specs aside). */
function commandsSentBy(service: string): string[] {
  const root = path.resolve(import.meta.dirname, '../../../apps', service, 'src');
  const sent = new Set<string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.name.endsWith('.ts') && !entry.name.includes('.spec.')) {
        for (const m of readFileSync(file, 'utf8').matchAll(/\.send\(\s*'([A-Za-z]+)'/g))
          sent.add(m[1]!);
      }
    }
  };
  walk(root);
  return [...sent].sort();
}

describe('bus permissions', () => {
  // The e2e tests run without NATS permissions; `npm run up` and the benchmarks run with them: a
  // command missing here works in tests and is refused for real (the scheduler's estimateRun was).
  it.each(BUS_SERVICES.filter((s) => s !== 'gateway'))(
    'lets %s send every command its code sends',
    (service) => {
      const calls: readonly string[] = BUS_ROLES[service].calls;
      const missing = commandsSentBy(service).filter((c) => !calls.includes(c));
      expect(missing).toEqual([]);
    },
  );

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
