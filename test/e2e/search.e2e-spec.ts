import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AcaiApiError, AcaiClient, Query } from '@acai/sdk';
import { eventually } from '@acai/testkit';
import { startSystem, type TestSystem } from '../support/system.js';

interface Hit {
  fileset: string;
  version: number;
}

/** A query string as the SDK's query (a name given twice is a list). */
function queryOf(text: string): Query {
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of new URLSearchParams(text)) {
    const was = query[name];
    query[name] = was === undefined ? value : [...(Array.isArray(was) ? was : [was]), value];
  }
  return query;
}

describe('searching file sets and versions', () => {
  let system: TestSystem;
  let acai: AcaiClient;
  let producingJob: string;

  beforeAll(async () => {
    system = await startSystem();
    acai = system.client();
    const content = 'weights';
    const sha = createHash('sha256').update(content).digest('hex');
    await system.upload(content, sha);
    const models: [string, Record<string, unknown>, string[]][] = [
      [
        'model-a',
        { task: 'digits', metrics: { accuracy: 0.91 }, tags: ['mlp', 'small'] },
        ['candidate'],
      ],
      [
        'model-a',
        { task: 'digits', metrics: { accuracy: 0.97 }, tags: ['mlp'] },
        ['candidate', 'prod'],
      ],
      [
        'model-b',
        { task: 'fashion', metrics: { accuracy: 0.88 }, notes: 'baseline' },
        ['candidate'],
      ],
      ['data-c', { rows: 70000 }, ['raw']],
    ];
    const created = new Set<string>();
    for (const [name, metadata, labels] of models) {
      if (!created.has(name))
        await acai.createFileset({
          name,
          labels: name.startsWith('model') ? ['model'] : ['data'],
        });
      const { latestVersion } = await acai.getFileset(name);
      const committed = await acai.commitVersion(name, {
        parent: latestVersion,
        put: [{ path: `v${latestVersion + 1}.bin`, sha256: sha }],
        metadata,
        labels,
      });
      expect(committed.version).toBe(latestVersion + 1);
      created.add(name);
    }
    const run = await acai.submitRun({
      name: 'make',
      steps: [
        {
          name: 'make',
          command: ['sh', '-c', 'echo x > "$ACAI_OUTPUT_MADE/out.txt"'],
          outputs: [{ fileset: 'made' }],
        },
      ],
    });
    producingJob = run.jobs[0]!.id;
    await system.waitForRun(run.id);
    // Search reads a projection: wait until every version is in it.
    await eventually('the search tables to catch up', async () =>
      (await acai.searchVersions({ limit: 100 })).items.length === 5 ? true : undefined,
    );
  });

  afterAll(async () => {
    await system?.close();
  });

  const versions = async (query: string) => {
    const { items } = await acai.searchVersions(queryOf(query));
    return items.map((h) => `${h.fileset}@${h.version}`).sort();
  };

  it('finds versions by labels, metadata equality, ranges, existence and containment', async () => {
    expect(await versions('label=candidate&label=prod')).toEqual(['model-a@2']);
    expect(await versions('anyLabel=prod&anyLabel=raw')).toEqual(['data-c@1', 'model-a@2']);
    expect(await versions('meta.task=digits')).toEqual(['model-a@1', 'model-a@2']);
    expect(await versions('meta.metrics.accuracy[gte]=0.9')).toEqual(['model-a@1', 'model-a@2']);
    expect(await versions('meta.metrics.accuracy[gt]=0.85&meta.metrics.accuracy[lt]=0.95')).toEqual(
      ['model-a@1', 'model-b@1'],
    );
    expect(await versions('meta.notes[exists]=true')).toEqual(['model-b@1']);
    expect(await versions('meta.rows[exists]=false&fileset=data')).toEqual([]);
    expect(await versions('meta.tags[contains]=small')).toEqual(['model-a@1']);
    expect(await versions('meta.rows=70000')).toEqual(['data-c@1']);
    expect(await versions('fileset=model-&latest=true')).toEqual(['model-a@2', 'model-b@1']);
    expect(await versions(`creatorJob=${producingJob}`)).toEqual(['made@1']);
    expect(await versions('createdAfter=2999-01-01T00:00:00Z')).toEqual([]);
  });

  it('finds a version by the numbers in metadata changed after its commit', async () => {
    await acai.changeMetadata(
      'model-b',
      { op: 'merge', value: { metrics: { accuracy: 0.99 } } },
      1,
    );
    await eventually('the range search to see the new accuracy', async () =>
      (await versions('meta.metrics.accuracy[gte]=0.98')).includes('model-b@1') ? true : undefined,
    );
    expect(await versions('meta.metrics.accuracy[lt]=0.9')).toEqual([]);
  });

  it('pages newest first with a cursor', async () => {
    const first = await acai.searchVersions({ limit: 2 });
    expect(first.items).toHaveLength(2);
    const seen = first.items.map((h: Hit) => `${h.fileset}@${h.version}`);
    let cursor: string | null = first.nextCursor;
    while (cursor !== null) {
      const page = await acai.searchVersions({ limit: 2, cursor });
      seen.push(...page.items.map((h) => `${h.fileset}@${h.version}`));
      cursor = page.nextCursor;
    }
    expect(seen).toHaveLength(5);
    expect(new Set(seen).size).toBe(5);
    expect(seen[0]).toBe('made@1');
  });

  it('finds file sets by their own labels and metadata', async () => {
    const { items } = await acai.searchFilesets({ label: 'model' });
    expect(items.map((f) => f.name)).toEqual(['model-a', 'model-b']);
  });

  it('names a bad search parameter (400)', async () => {
    for (const [query, field] of [
      ['meta.accuracy[gte]=high', 'meta.accuracy[gte]'],
      ['colour=red', 'colour'],
      ['limit=0', 'limit'],
      ['createdAfter=yesterday', 'createdAfter'],
      ['cursor=garbage', 'cursor'],
    ] as const) {
      const refused = await acai.searchVersions(queryOf(query)).catch((e: unknown) => e);
      expect([query, refused]).toEqual([query, expect.objectContaining({ status: 400 })]);
      expect((refused as AcaiApiError).details[0]!.path).toBe(field);
    }
  });
});
