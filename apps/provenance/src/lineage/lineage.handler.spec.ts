import { describe, expect, it } from '@jest/globals';
import {
  AcaiError,
  type LineageDirection,
  type LineageNode,
  type ReplayStatus,
} from '@acai/contracts';
import { ProjectionControl } from '@acai/eventing';
import { encodeCursor, type LineagePosition } from './lineage.cursor.js';
import { LineageHandler } from './lineage.handler.js';
import { LineageRepository, type ImpactPage, type LineagePage } from './lineage.repository.js';

const upload: LineageNode = {
  kind: 'version',
  id: 'version:mnist@1',
  fileset: 'mnist',
  version: 1,
  bytes: 10,
  files: 1,
  manifestSha256: 'sha',
  createdBy: { kind: 'key', keyId: 'key-1' },
  evicted: false,
  pinned: false,
};

/** A graph that holds `upload` in project p1 once the projection has caught up. */
class Graph extends LineageRepository {
  nodes = new Map<string, LineageNode>();
  walks: unknown[][] = [];
  async node(project: string, id: string): Promise<LineageNode | undefined> {
    return this.nodes.get(`${project}/${id}`);
  }
  async walk(
    project: string,
    start: string,
    direction: LineageDirection,
    depth: number,
    limit: number,
    after: LineagePosition | null,
  ): Promise<LineagePage> {
    this.walks.push([project, start, direction, depth, limit, after]);
    return { items: [], edges: [], next: { rank: 2, id: 'job:job-1' } };
  }
  async impact(
    project: string,
    start: string,
    depth: number,
    limit: number,
    after: LineagePosition | null,
  ): Promise<ImpactPage> {
    this.walks.push([project, start, depth, limit, after]);
    return { jobs: 0, versions: 0, items: [], next: null };
  }
}

class Projections extends ProjectionControl {
  readonly names = ['lineage'];
  caughtUp = 0;
  constructor(private readonly graph: Graph) {
    super();
  }
  async catchUp(): Promise<boolean> {
    this.caughtUp += 1;
    this.graph.nodes.set(`p1/${upload.id}`, upload);
    return true;
  }
  async waitFor(): Promise<void> {}
  async replay() {
    return { projection: 'lineage', lastSeq: 0, documents: 0 };
  }
  async beginReplay(): Promise<ReplayStatus> {
    throw new Error('not here');
  }
  async replayStatus(): Promise<null> {
    return null;
  }
  async checkpoint(): Promise<number> {
    return 0;
  }
}

function handler() {
  const graph = new Graph();
  const projections = new Projections(graph);
  return { graph, projections, lineage: new LineageHandler(graph, projections) };
}

const request = {
  project: 'p1',
  start: { fileset: 'mnist', version: 1 },
  direction: 'down' as const,
  depth: 10,
  limit: 100,
  cursor: null,
};

describe('LineageHandler', () => {
  it('reads its own writes: a start not projected yet is found after the projection catches up', async () => {
    const { lineage, projections, graph } = handler();
    const view = await lineage.getLineage(request);
    expect(projections.caughtUp).toBe(1);
    expect(view.start).toEqual(upload);
    expect(graph.walks).toEqual([['p1', 'version:mnist@1', 'down', 10, 100, null]]);
    expect(view.nextCursor).toBe(encodeCursor({ rank: 2, id: 'job:job-1' }));
  });

  it('answers LINEAGE_START_NOT_FOUND naming the start when another project holds it', async () => {
    const { lineage, graph } = handler();
    const error = await lineage
      .getLineage({ ...request, project: 'p2', start: { jobId: 'job-x' } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AcaiError);
    expect(error).toMatchObject({ reason: 'LINEAGE_START_NOT_FOUND' });
    expect((error as Error).message).toContain("job 'job-x'");
    expect(graph.walks).toEqual([]);
  });

  it('walks impact from the version with the cursor the previous page gave', async () => {
    const { lineage, graph } = handler();
    const cursor = encodeCursor({ rank: 3, id: 'job:job-2' });
    await lineage.getImpact({ project: 'p1', fileset: 'mnist', version: 1, limit: 5, cursor });
    expect(graph.walks).toEqual([['p1', 'version:mnist@1', 50, 5, { rank: 3, id: 'job:job-2' }]]);
  });

  it('refuses a cursor it did not give before reading anything', async () => {
    const { lineage, projections } = handler();
    await expect(lineage.getLineage({ ...request, cursor: 'junk' })).rejects.toMatchObject({
      reason: 'LINEAGE_CURSOR_INVALID',
    });
    expect(projections.caughtUp).toBe(0);
  });
});
