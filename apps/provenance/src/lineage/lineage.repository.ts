import type { DataSource } from 'typeorm';
import type {
  Impacted,
  JobStatus,
  LineageDirection,
  LineageEdge,
  LineageNode,
  LineageReached,
} from '@acai/contracts';
import type { LineageProjection } from './lineage.projection.js';
import type { LineagePosition } from './lineage.cursor.js';

export interface LineagePage {
  readonly items: LineageReached[];
  readonly edges: LineageEdge[];
  /** The last item's position when more follow; null on the last page. */
  readonly next: LineagePosition | null;
}

export interface ImpactPage {
  readonly jobs: number;
  readonly versions: number;
  readonly items: Impacted[];
  readonly next: LineagePosition | null;
}

/** The lineage graph, as provenance answers questions about it. Every read is of one project. */
export abstract class LineageRepository {
  /** A node by its id (`version:<fileset>@<n>`, `job:<id>`); undefined when not in the project. */
  abstract node(project: string, id: string): Promise<LineageNode | undefined>;

  /**
   * The nodes reached from `start` within `depth` edges, in order of (shortest) depth then id, a page
   * of `limit` after `after`, with the edges among them (see LineageViewSchema).
   */
  abstract walk(
    project: string,
    start: string,
    direction: LineageDirection,
    depth: number,
    limit: number,
    after: LineagePosition | null,
  ): Promise<LineagePage>;

  /** Everything downstream of `start` within `depth`, in order of level (longest way) then id. */
  abstract impact(
    project: string,
    start: string,
    depth: number,
    limit: number,
    after: LineagePosition | null,
  ): Promise<ImpactPage>;
}

interface NodeRow {
  id: string;
  kind: 'version' | 'job';
  fileset: string | null;
  version: number | null;
  bytes: string | null;
  files: number | null;
  manifest_sha256: string | null;
  created_by: { kind: 'key'; keyId: string } | { kind: 'job'; jobId: string } | null;
  evicted: boolean;
  pinned: boolean;
  job_id: string | null;
  run_id: string | null;
  step: string | null;
  command: string[] | null;
  parameters: Record<string, string> | null;
  code: string | null;
  status: JobStatus | null;
  duration_ms: number | null;
  reused_from: string | null;
}

const NODE_COLUMNS = `n.id, n.kind, n.fileset, n.version, n.bytes, n.files, n.manifest_sha256,
  n.created_by, n.evicted, n.pinned, n.job_id, n.run_id, n.step, n.command, n.parameters, n.code, n.status,
  n.duration_ms, n.reused_from`;

/** A row of `lineage_nodes` as the API shows it. */
export function nodeOf(row: NodeRow): LineageNode {
  if (row.kind === 'version') {
    return {
      kind: 'version',
      id: row.id,
      fileset: row.fileset ?? '',
      version: row.version ?? 1,
      bytes: row.bytes === null ? null : Number(row.bytes),
      files: row.files,
      manifestSha256: row.manifest_sha256,
      createdBy: row.created_by,
      evicted: row.evicted,
      pinned: row.pinned,
    };
  }
  return {
    kind: 'job',
    id: row.id,
    jobId: row.job_id ?? row.id.slice('job:'.length),
    runId: row.run_id,
    step: row.step,
    command: row.command,
    parameters: row.parameters ?? {},
    code: row.code,
    // A job known only from the commit of something it made, never from its own events.
    status: row.status ?? 'pending',
    durationMs: row.duration_ms,
    reusedFrom: row.reused_from,
  };
}

/**
 * The graph the `lineage` projection keeps in Postgres, walked with recursive CTEs. A walk
 * enumerates (node, depth) pairs with UNION, so a node reached again at a depth already seen is not
 * walked again, and stops at `depth`: it ends however the graph is shaped (a cycle, impossible in a
 * log of immutable versions, is only walked to the cap), and its work is bounded by nodes x depth,
 * not by the number of paths.
 */
export class SqlLineageRepository implements LineageRepository {
  constructor(
    private readonly db: DataSource,
    private readonly projection: LineageProjection,
  ) {}

  async node(project: string, id: string): Promise<LineageNode | undefined> {
    const rows = await this.db.query<NodeRow[]>(
      `SELECT ${NODE_COLUMNS} FROM ${this.projection.nodes()} n WHERE n.project = $1 AND n.id = $2`,
      [project, id],
    );
    return rows[0] === undefined ? undefined : nodeOf(rows[0]);
  }

  /** The recursive CTEs of a walk from `$2` in `directions`, `$3` edges at most. */
  private walks(directions: readonly ('up' | 'down')[]): string {
    const edges = this.projection.edges();
    return directions
      .map((d) => {
        const [from, to] = d === 'down' ? ['src', 'dst'] : ['dst', 'src'];
        return `walk_${d}(node, depth) AS (
          SELECT $2::text, 0
          UNION
          SELECT e.${to}, w.depth + 1 FROM walk_${d} w
          JOIN ${edges} e ON e.project = $1 AND e.${from} = w.node
          WHERE w.depth < $3
        )`;
      })
      .join(',\n');
  }

  async walk(
    project: string,
    start: string,
    direction: LineageDirection,
    depth: number,
    limit: number,
    after: LineagePosition | null,
  ): Promise<LineagePage> {
    const directions: ('up' | 'down')[] = direction === 'both' ? ['up', 'down'] : [direction];
    const edges = this.projection.edges();
    const rows = await this.db.query<(NodeRow & { depth: number; page_edges: string[][] })[]>(
      `WITH RECURSIVE ${this.walks(directions)},
       reached AS MATERIALIZED (
         SELECT node, min(depth) AS depth FROM (
           ${directions.map((d) => `SELECT node, depth FROM walk_${d}`).join(' UNION ALL ')}
         ) w WHERE node <> $2 GROUP BY node
       ),
       known AS (SELECT node, depth FROM reached UNION ALL SELECT $2::text, 0),
       page AS (
         SELECT node, depth FROM reached WHERE (depth, node) > ($4::int, $5::text)
         ORDER BY depth, node LIMIT $6
       ),
       page_edges AS (
         SELECT p.node, e.src, e.dst, e.kind FROM page p
         JOIN ${edges} e ON e.project = $1 AND e.dst = p.node
         JOIN known k ON k.node = e.src WHERE (k.depth, k.node) < (p.depth, p.node)
         UNION ALL
         SELECT p.node, e.src, e.dst, e.kind FROM page p
         JOIN ${edges} e ON e.project = $1 AND e.src = p.node
         JOIN known k ON k.node = e.dst WHERE (k.depth, k.node) < (p.depth, p.node)
       ),
       -- Grouped once, not a subquery per node: that would scan known again for each one.
       grouped AS (
         SELECT node, json_agg(json_build_array(src, dst, kind) ORDER BY src, dst) AS page_edges
         FROM page_edges GROUP BY node
       )
       SELECT ${NODE_COLUMNS}, p.depth, coalesce(g.page_edges, '[]') AS page_edges
       FROM page p JOIN ${this.projection.nodes()} n ON n.project = $1 AND n.id = p.node
       LEFT JOIN grouped g ON g.node = p.node
       ORDER BY p.depth, p.node`,
      [project, start, depth, after?.rank ?? 0, after?.id ?? '', limit + 1],
    );
    const more = rows.length > limit;
    const shown = more ? rows.slice(0, limit) : rows;
    const last = shown.at(-1);
    return {
      items: shown.map((row) => ({ ...nodeOf(row), depth: row.depth })),
      edges: shown.flatMap((row) =>
        row.page_edges.map(([from, to, kind]) => ({
          from: from!,
          to: to!,
          kind: kind === 'input' || kind === 'reused' ? kind : ('output' as const),
        })),
      ),
      next: more && last !== undefined ? { rank: last.depth, id: last.id } : null,
    };
  }

  async impact(
    project: string,
    start: string,
    depth: number,
    limit: number,
    after: LineagePosition | null,
  ): Promise<ImpactPage> {
    const rows = await this.db.query<
      (Partial<NodeRow> & {
        depth: number | null;
        level: number | null;
        jobs: string;
        versions: string;
      })[]
    >(
      `WITH RECURSIVE ${this.walks(['down'])},
       reached AS MATERIALIZED (
         SELECT node, min(depth) AS depth, max(depth) AS level FROM walk_down
         WHERE node <> $2 GROUP BY node
       ),
       totals AS (
         SELECT count(*) FILTER (WHERE node LIKE 'job:%') AS jobs,
                count(*) FILTER (WHERE node NOT LIKE 'job:%') AS versions FROM reached
       ),
       page AS (
         SELECT node, depth, level FROM reached WHERE (level, node) > ($4::int, $5::text)
         ORDER BY level, node LIMIT $6
       )
       SELECT t.jobs, t.versions, x.* FROM totals t LEFT JOIN (
         SELECT ${NODE_COLUMNS}, p.depth, p.level
         FROM page p JOIN ${this.projection.nodes()} n ON n.project = $1 AND n.id = p.node
       ) x ON true
       ORDER BY x.level, x.id`,
      [project, start, depth, after?.rank ?? 0, after?.id ?? '', limit + 1],
    );
    const found = rows.filter((row) => row.id !== null && row.id !== undefined);
    const more = found.length > limit;
    const shown = (more ? found.slice(0, limit) : found) as (NodeRow & {
      depth: number;
      level: number;
    })[];
    const last = shown.at(-1);
    return {
      jobs: Number(rows[0]?.jobs ?? 0),
      versions: Number(rows[0]?.versions ?? 0),
      items: shown.map((row) => ({ ...nodeOf(row), depth: row.depth, level: row.level })),
      next: more && last !== undefined ? { rank: last.level, id: last.id } : null,
    };
  }
}
