import type { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@acai/eventing';

/** Tables the catalog searches: file sets, versions, and the numeric leaves of version metadata. */
export class CatalogSearch1764200000000 implements MigrationInterface {
  name = 'CatalogSearch1764200000000';

  async up(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(`CREATE TABLE IF NOT EXISTS ${s}.filesets (
      project text NOT NULL,
      name text NOT NULL,
      metadata jsonb NOT NULL,
      labels text[] NOT NULL,
      latest_version int NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      PRIMARY KEY (project, name)
    )`);
    await q.query(
      `CREATE INDEX IF NOT EXISTS filesets_metadata_idx ON ${s}.filesets USING gin (metadata jsonb_path_ops)`,
    );
    await q.query(
      `CREATE INDEX IF NOT EXISTS filesets_labels_idx ON ${s}.filesets USING gin (labels)`,
    );
    await q.query(
      `CREATE INDEX IF NOT EXISTS filesets_created_idx ON ${s}.filesets (project, created_at DESC, name)`,
    );
    await q.query(`CREATE TABLE IF NOT EXISTS ${s}.versions (
      id bigserial PRIMARY KEY,
      project text NOT NULL,
      fileset text NOT NULL,
      version int NOT NULL,
      metadata jsonb NOT NULL,
      labels text[] NOT NULL,
      files int NOT NULL,
      bytes bigint NOT NULL,
      manifest_sha256 text NOT NULL,
      created_at timestamptz NOT NULL,
      created_by jsonb NOT NULL,
      creator_job text,
      creator_run text,
      pinned boolean NOT NULL DEFAULT false,
      evicted boolean NOT NULL DEFAULT false,
      is_latest boolean NOT NULL DEFAULT true,
      UNIQUE (project, fileset, version)
    )`);
    await q.query(
      `CREATE INDEX IF NOT EXISTS versions_metadata_idx ON ${s}.versions USING gin (metadata jsonb_path_ops)`,
    );
    await q.query(
      `CREATE INDEX IF NOT EXISTS versions_labels_idx ON ${s}.versions USING gin (labels)`,
    );
    await q.query(
      `CREATE INDEX IF NOT EXISTS versions_created_idx ON ${s}.versions (project, created_at DESC, id DESC)`,
    );
    await q.query(
      `CREATE INDEX IF NOT EXISTS versions_fileset_idx ON ${s}.versions (project, fileset text_pattern_ops, version)`,
    );
    await q.query(
      `CREATE INDEX IF NOT EXISTS versions_creator_job_idx ON ${s}.versions (project, creator_job) WHERE creator_job IS NOT NULL`,
    );
    await q.query(
      `CREATE INDEX IF NOT EXISTS versions_creator_run_idx ON ${s}.versions (project, creator_run) WHERE creator_run IS NOT NULL`,
    );
    await q.query(`CREATE TABLE IF NOT EXISTS ${s}.version_numbers (
      version_id bigint NOT NULL REFERENCES ${s}.versions(id) ON DELETE CASCADE,
      project text NOT NULL,
      key text NOT NULL,
      value double precision NOT NULL
    )`);
    await q.query(
      `CREATE INDEX IF NOT EXISTS version_numbers_idx ON ${s}.version_numbers (project, key, value, version_id)`,
    );
    await q.query(
      `CREATE INDEX IF NOT EXISTS version_numbers_version_idx ON ${s}.version_numbers (version_id)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(`DROP TABLE IF EXISTS ${s}.version_numbers`);
    await q.query(`DROP TABLE IF EXISTS ${s}.versions`);
    await q.query(`DROP TABLE IF EXISTS ${s}.filesets`);
  }
}

/** `latest=true` searches touch one version per file set: index exactly those. */
export class CatalogSearchLatest1764200100000 implements MigrationInterface {
  name = 'CatalogSearchLatest1764200100000';

  async up(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(
      `CREATE INDEX IF NOT EXISTS versions_latest_idx ON ${s}.versions (project, created_at DESC, id DESC) WHERE is_latest`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS ${schemaOf(q)}.versions_latest_idx`);
  }
}

/** Which live versions use which blob: eviction deletes a blob only when no live version does. */
export class CatalogBlobRefs1764200200000 implements MigrationInterface {
  name = 'CatalogBlobRefs1764200200000';

  async up(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(`CREATE TABLE IF NOT EXISTS ${s}.blob_refs (
      project text NOT NULL,
      fileset text NOT NULL,
      version int NOT NULL,
      sha256 text NOT NULL,
      PRIMARY KEY (project, fileset, version, sha256)
    )`);
    await q.query(`CREATE INDEX IF NOT EXISTS blob_refs_sha_idx ON ${s}.blob_refs (sha256)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS ${schemaOf(q)}.blob_refs`);
  }
}
