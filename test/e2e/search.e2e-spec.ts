import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { eventually } from '@acai/testkit';
import { startSystem, type TestSystem } from '../support/system.js';

interface Hit {
  fileset: string;
  version: number;
}

describe('searching file sets and versions', () => {
  let system: TestSystem;
  let producingJob: string;

  beforeAll(async () => {
    system = await startSystem();
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
    for (const [name, metadata, labels] of models) {
      await system.api('POST', '/api/v1/filesets', {
        name,
        labels: name.startsWith('model') ? ['model'] : ['data'],
      });
      const current = (await system.api('GET', `/api/v1/filesets/${name}`)).body as {
        latestVersion: number;
      };
      const committed = await system.api('POST', `/api/v1/filesets/${name}/versions`, {
        parent: current.latestVersion,
        put: [{ path: `v${current.latestVersion + 1}.bin`, sha256: sha }],
        metadata,
        labels,
      });
      expect(committed.status).toBe(201);
    }
    const run = await system.api('POST', '/api/v1/runs', {
      name: 'make',
      steps: [
        {
          name: 'make',
          command: ['sh', '-c', 'echo x > "$ACAI_OUTPUT_MADE/out.txt"'],
          outputs: [{ fileset: 'made' }],
        },
      ],
    });
    producingJob = (run.body as { jobs: { id: string }[] }).jobs[0]!.id;
    await system.waitForRun((run.body as { id: string }).id);
    // Search reads a projection: wait until every version is in it.
    await eventually('the search tables to catch up', async () => {
      const all = await system.api('GET', '/api/v1/versions?limit=100');
      return (all.body as { items: unknown[] }).items.length === 5 ? true : undefined;
    });
  });

  afterAll(async () => {
    await system?.close();
  });

  const versions = async (query: string) => {
    const r = await system.api('GET', `/api/v1/versions?${query}`);
    expect([query, r.status]).toEqual([query, 200]);
    return (r.body as { items: Hit[] }).items.map((h) => `${h.fileset}@${h.version}`).sort();
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
    const changed = await system.api('PATCH', '/api/v1/filesets/model-b/metadata?version=1', {
      op: 'merge',
      value: { metrics: { accuracy: 0.99 } },
    });
    expect(changed.status).toBe(200);
    await eventually('the range search to see the new accuracy', async () =>
      (await versions('meta.metrics.accuracy[gte]=0.98')).includes('model-b@1') ? true : undefined,
    );
    expect(await versions('meta.metrics.accuracy[lt]=0.9')).toEqual([]);
  });

  it('pages newest first with a cursor', async () => {
    const first = (await system.api('GET', '/api/v1/versions?limit=2')).body as {
      items: Hit[];
      nextCursor: string;
    };
    expect(first.items).toHaveLength(2);
    const seen = first.items.map((h) => `${h.fileset}@${h.version}`);
    let cursor: string | null = first.nextCursor;
    while (cursor !== null) {
      const page = (await system.api('GET', `/api/v1/versions?limit=2&cursor=${cursor}`)).body as {
        items: Hit[];
        nextCursor: string | null;
      };
      seen.push(...page.items.map((h) => `${h.fileset}@${h.version}`));
      cursor = page.nextCursor;
    }
    expect(seen).toHaveLength(5);
    expect(new Set(seen).size).toBe(5);
    expect(seen[0]).toBe('made@1');
  });

  it('finds file sets by their own labels and metadata', async () => {
    const r = await system.api('GET', '/api/v1/filesets?label=model');
    expect((r.body as { items: { name: string }[] }).items.map((f) => f.name)).toEqual([
      'model-a',
      'model-b',
    ]);
  });

  it('names a bad search parameter (400)', async () => {
    for (const [query, field] of [
      ['meta.accuracy[gte]=high', 'meta.accuracy[gte]'],
      ['colour=red', 'colour'],
      ['limit=0', 'limit'],
      ['createdAfter=yesterday', 'createdAfter'],
      ['cursor=garbage', 'cursor'],
    ] as const) {
      const r = await system.api('GET', `/api/v1/versions?${query}`);
      expect([query, r.status]).toEqual([query, 400]);
      expect((r.body as { error: { details: { path: string }[] } }).error.details[0]!.path).toBe(
        field,
      );
    }
  });
});
