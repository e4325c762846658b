import type { EntityManager } from 'typeorm';
import type { StoredEvent } from '@acai/contracts';
import {
  promoteBuiltTables,
  resetBuiltTables,
  type SqlProjection,
  queryPrepared,
} from '@acai/eventing';
import { lineageChanges, type NodeChange } from './lineage.changes.js';

const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/**
 * `lineage`: file set versions and jobs as nodes, what each job read and made as edges, from
 * `job.queued`, `job.succeeded`, `fileset.version_committed` and the jobs' status events. A batch is
 * applied with three statements whatever its size (see {@link lineageChanges}).
 */
export class LineageProjection implements SqlProjection {
  readonly name: string = 'lineage';

  constructor(
    protected readonly schema: string,
    private readonly suffix = '',
  ) {}

  /** The nodes table, schema-qualified. */
  nodes(): string {
    return `${quote(this.schema)}.lineage_nodes${this.suffix}`;
  }

  /** The edges table, schema-qualified. */
  edges(): string {
    return `${quote(this.schema)}.lineage_edges${this.suffix}`;
  }

  /**
   * The replay's build: the same rows in tables of their own (`lineage_nodes_replay`,
   * `lineage_edges_replay`, shaped like the live ones), put in the live tables' place in the swap's
   * transaction (readers of the live tables see the old graph until it commits).
   */
  replica(): SqlProjection & { promote(m: EntityManager): Promise<void> } {
    const shadow = new LineageReplica(this.schema);
    return Object.assign(shadow, {
      promote: (m: EntityManager) =>
        promoteBuiltTables(m, [
          [this.nodes(), shadow.nodes()],
          [this.edges(), shadow.edges()],
        ]),
    });
  }

  async apply(m: EntityManager, events: readonly StoredEvent[]): Promise<void> {
    const { nodes, edges } = lineageChanges(events);
    if (nodes.size === 0) return;
    const all = [...nodes.values()];
    const made = all.filter((n) => n.creates);
    // A version made and pinned in one batch: the insert does not set `pinned`, the update does.
    const updated = all.filter((n) => !n.creates || n.pinned !== undefined);
    const json = (value: unknown): string | null =>
      value === undefined ? null : JSON.stringify(value);
    const column = <K extends keyof NodeChange>(rows: NodeChange[], key: K) =>
      rows.map((n) => n[key] ?? null);
    if (made.length > 0) {
      await queryPrepared(
        m,
        `INSERT INTO ${this.nodes()} AS n (project, id, kind, fileset, version, bytes, files,
           manifest_sha256, created_by, evicted, job_id, run_id, step, command, parameters, code,
           status, duration_ms, reused_from, quality, seq, load_ms, saved_ms)
         SELECT u.project, u.id, u.kind, u.fileset, u.version, u.bytes, u.files, u.manifest_sha256,
           u.created_by::jsonb, coalesce(u.evicted, false), u.job_id, u.run_id, u.step,
           u.command::jsonb, u.parameters::jsonb, u.code, u.status, u.duration_ms, u.reused_from, u.quality::jsonb, u.seq,
           u.load_ms, u.saved_ms
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::bigint[],
           $7::int[], $8::text[], $9::text[], $10::bool[], $11::text[], $12::text[], $13::text[],
           $14::text[], $15::text[], $16::text[], $17::text[], $18::float8[], $19::text[], $20::text[], $21::bigint[],
           $22::float8[], $23::float8[])
           AS u(project, id, kind, fileset, version, bytes, files, manifest_sha256, created_by,
             evicted, job_id, run_id, step, command, parameters, code, status, duration_ms,
             reused_from, quality, seq, load_ms, saved_ms)
         ON CONFLICT (project, id) DO UPDATE SET
           fileset = coalesce(EXCLUDED.fileset, n.fileset),
           version = coalesce(EXCLUDED.version, n.version),
           bytes = coalesce(EXCLUDED.bytes, n.bytes),
           files = coalesce(EXCLUDED.files, n.files),
           manifest_sha256 = coalesce(EXCLUDED.manifest_sha256, n.manifest_sha256),
           created_by = coalesce(EXCLUDED.created_by, n.created_by),
           evicted = n.evicted OR EXCLUDED.evicted,
           job_id = coalesce(EXCLUDED.job_id, n.job_id),
           run_id = coalesce(EXCLUDED.run_id, n.run_id),
           step = coalesce(EXCLUDED.step, n.step),
           command = coalesce(EXCLUDED.command, n.command),
           parameters = coalesce(EXCLUDED.parameters, n.parameters),
           code = coalesce(EXCLUDED.code, n.code),
           status = coalesce(EXCLUDED.status, n.status),
           duration_ms = coalesce(EXCLUDED.duration_ms, n.duration_ms),
           reused_from = coalesce(EXCLUDED.reused_from, n.reused_from),
           quality = coalesce(EXCLUDED.quality, n.quality),
           seq = least(EXCLUDED.seq, n.seq),
           load_ms = coalesce(EXCLUDED.load_ms, n.load_ms),
           saved_ms = coalesce(EXCLUDED.saved_ms, n.saved_ms)`,
        [
          column(made, 'project'),
          column(made, 'id'),
          column(made, 'kind'),
          column(made, 'fileset'),
          column(made, 'version'),
          column(made, 'bytes'),
          column(made, 'files'),
          column(made, 'manifestSha256'),
          made.map((n) => json(n.createdBy)),
          column(made, 'evicted'),
          column(made, 'jobId'),
          column(made, 'runId'),
          column(made, 'step'),
          made.map((n) => json(n.command)),
          made.map((n) => json(n.parameters)),
          column(made, 'code'),
          column(made, 'status'),
          column(made, 'durationMs'),
          column(made, 'reusedFrom'),
          made.map((n) => json(n.quality)),
          column(made, 'seq'),
          column(made, 'loadMs'),
          column(made, 'savedMs'),
        ],
      );
    }
    if (updated.length > 0) {
      await queryPrepared(
        m,
        `UPDATE ${this.nodes()} AS n SET
           status = coalesce(u.status, n.status),
           duration_ms = coalesce(u.duration_ms, n.duration_ms),
           evicted = n.evicted OR coalesce(u.evicted, false),
           pinned = coalesce(u.pinned, n.pinned),
           load_ms = coalesce(u.load_ms, n.load_ms)
         FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::bool[], $6::bool[],
           $7::float8[])
           AS u(project, id, status, duration_ms, evicted, pinned, load_ms)
         WHERE n.project = u.project AND n.id = u.id`,
        [
          column(updated, 'project'),
          column(updated, 'id'),
          column(updated, 'status'),
          column(updated, 'durationMs'),
          column(updated, 'evicted'),
          column(updated, 'pinned'),
          column(updated, 'loadMs'),
        ],
      );
    }
    if (edges.size > 0) {
      const rows = [...edges.values()];
      await queryPrepared(
        m,
        `INSERT INTO ${this.edges()} (project, src, dst, kind, seq)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[])
         ON CONFLICT DO NOTHING`,
        [
          rows.map((e) => e.project),
          rows.map((e) => e.src),
          rows.map((e) => e.dst),
          rows.map((e) => e.kind),
          rows.map((e) => e.seq),
        ],
      );
    }
  }

  async reset(m: EntityManager): Promise<void> {
    await m.query(`TRUNCATE ${this.nodes()}, ${this.edges()}`);
  }

  /** Nodes and edges together. */
  async count(m: EntityManager): Promise<number> {
    const rows = await m.query<{ n: string }[]>(
      `SELECT (SELECT count(*) FROM ${this.nodes()}) + (SELECT count(*) FROM ${this.edges()}) AS n`,
    );
    return Number(rows[0]?.n ?? 0);
  }
}

/** `lineage~replay`: the replay's build of the graph, in `lineage_nodes_replay` and `lineage_edges_replay`. */
class LineageReplica extends LineageProjection {
  override readonly name = 'lineage~replay';

  constructor(schema: string) {
    super(schema, '_replay');
  }

  /** Made like the live tables (columns, keys, indexes), empty. */
  override async reset(m: EntityManager): Promise<void> {
    const live = new LineageProjection(this.schema);
    await resetBuiltTables(m, [
      [live.nodes(), this.nodes()],
      [live.edges(), this.edges()],
    ]);
  }
}
