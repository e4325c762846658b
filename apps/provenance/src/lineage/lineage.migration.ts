import type { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@acai/eventing';

/**
 * The lineage graph: file set versions and jobs as nodes, "read by" and "made by" as edges, each
 * row scoped to its project. Edges are keyed `(project, src, dst)` for walks down and indexed
 * `(project, dst, src)` for walks up, so each step of a recursive walk is an index lookup. Nodes
 * carry what an experiment graph needs later: a version's bytes, a job's duration, its run.
 */
export class ProvenanceLineage1797050000000 implements MigrationInterface {
  name = 'ProvenanceLineage1797050000000';

  async up(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(`CREATE TABLE IF NOT EXISTS ${s}.lineage_nodes (
      project text NOT NULL,
      id text NOT NULL,
      kind text NOT NULL CHECK (kind IN ('version', 'job')),
      fileset text,
      version int,
      bytes bigint,
      files int,
      manifest_sha256 text,
      created_by jsonb,
      evicted boolean NOT NULL DEFAULT false,
      pinned boolean NOT NULL DEFAULT false,
      job_id text,
      run_id text,
      step text,
      command jsonb,
      parameters jsonb,
      code text,
      status text,
      duration_ms double precision,
      reused_from text,
      quality jsonb,
      seq bigint NOT NULL,
      PRIMARY KEY (project, id)
    )`);
    await q.query(
      `CREATE INDEX IF NOT EXISTS lineage_nodes_run_idx ON ${s}.lineage_nodes (project, run_id) WHERE kind = 'job'`,
    );
    await q.query(`CREATE TABLE IF NOT EXISTS ${s}.lineage_edges (
      project text NOT NULL,
      src text NOT NULL,
      dst text NOT NULL,
      kind text NOT NULL CHECK (kind IN ('input', 'output', 'reused')),
      seq bigint NOT NULL,
      PRIMARY KEY (project, src, dst)
    )`);
    await q.query(
      `CREATE INDEX IF NOT EXISTS lineage_edges_up_idx ON ${s}.lineage_edges (project, dst, src)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS ${schemaOf(q)}.lineage_edges`);
    await q.query(`DROP TABLE IF EXISTS ${schemaOf(q)}.lineage_nodes`);
  }
}

/**
 * A version's load time: how long the latest job that read it took to put it in place
 * (`job.succeeded.loads`), the experiment graph's cost of loading an artifact instead of computing
 * it.
 */
export class ProvenanceLineageLoadTimes1797400000000 implements MigrationInterface {
  name = 'ProvenanceLineageLoadTimes1797400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE ${schemaOf(q)}.lineage_nodes ADD COLUMN IF NOT EXISTS load_ms double precision`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE ${schemaOf(q)}.lineage_nodes DROP COLUMN IF EXISTS load_ms`);
  }
}

/**
 * A job that took an earlier result: how long the job that computed it ran (`saved_ms`, from
 * `job.reused.from.savedSeconds`). A version copied from another project is made by the job that
 * reused it, which ran for nothing: this is what recreating it would cost.
 */
export class ProvenanceLineageSavedTimes1797500000000 implements MigrationInterface {
  name = 'ProvenanceLineageSavedTimes1797500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE ${schemaOf(q)}.lineage_nodes ADD COLUMN IF NOT EXISTS saved_ms double precision`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE ${schemaOf(q)}.lineage_nodes DROP COLUMN IF EXISTS saved_ms`);
  }
}

/** The lineage tables' migrations, in order. */
export const lineageMigrations = [
  ProvenanceLineage1797050000000,
  ProvenanceLineageLoadTimes1797400000000,
  ProvenanceLineageSavedTimes1797500000000,
] as const;
