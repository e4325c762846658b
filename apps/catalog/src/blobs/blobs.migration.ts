import type { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@acai/eventing';

/**
 * Which project has which blob (it uploaded the bytes, a job of it wrote them, or a version of it
 * uses them): a commit may name only blobs its project has. Existing data: each project owns the
 * blobs its live versions use. A blob uploaded but not committed before this migration is owned by
 * no one: committing it is `UPLOAD_MISSING` until it is uploaded again (which is instant for the
 * store: the bytes are there, nothing is written twice).
 *
 * Holds: the blobs of commits on their way to the log, which eviction keeps. Also indexes versions
 * by manifest: eviction keeps every blob that is some version's manifest.
 */
export class CatalogBlobOwners1764200300000 implements MigrationInterface {
  name = 'CatalogBlobOwners1764200300000';

  async up(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(`CREATE TABLE IF NOT EXISTS ${s}.blob_owners (
      project text NOT NULL,
      sha256 text NOT NULL,
      PRIMARY KEY (project, sha256)
    )`);
    await q.query(`CREATE INDEX IF NOT EXISTS blob_owners_sha_idx ON ${s}.blob_owners (sha256)`);
    await q.query(`CREATE TABLE IF NOT EXISTS ${s}.blob_holds (
      hold uuid NOT NULL,
      sha256 text NOT NULL,
      created_at timestamptz NOT NULL,
      PRIMARY KEY (hold, sha256)
    )`);
    await q.query(`CREATE INDEX IF NOT EXISTS blob_holds_sha_idx ON ${s}.blob_holds (sha256)`);
    await q.query(
      `CREATE INDEX IF NOT EXISTS versions_manifest_idx ON ${s}.versions (manifest_sha256)`,
    );
    await q.query(
      `INSERT INTO ${s}.blob_owners (project, sha256)
       SELECT DISTINCT project, sha256 FROM ${s}.blob_refs ON CONFLICT DO NOTHING`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(`DROP INDEX IF EXISTS ${s}.versions_manifest_idx`);
    await q.query(`DROP TABLE IF EXISTS ${s}.blob_holds`);
    await q.query(`DROP TABLE IF EXISTS ${s}.blob_owners`);
  }
}

/**
 * Uploads never committed are collected, and each project's storage is counted against a quota.
 *
 * `blob_owners.created_at`: when the project last showed it has the blob (an upload, a job's
 * output; each refreshes it); an ownership no version of the project uses is forgotten once this is
 * older than the grace period. Existing rows get the time of the migration: they have a whole grace
 * period from the upgrade on.
 *
 * `blob_owners.bytes`: the blob's size, what the project's quota counts. Null for rows from before
 * (and from senders of earlier releases): the catalog's sweeps read those sizes from the store.
 *
 * `project_storage`: per project, the bytes and number of the distinct blobs it owns (kept with
 * every change of `blob_owners`, so that a quota check reads one row), and the quota the platform
 * admin set for it (null: the platform default; 0: none).
 */
export class CatalogUploadSweep1796500000000 implements MigrationInterface {
  name = 'CatalogUploadSweep1796500000000';

  async up(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(
      `ALTER TABLE ${s}.blob_owners ADD COLUMN IF NOT EXISTS created_at timestamptz NOT NULL DEFAULT now()`,
    );
    await q.query(`ALTER TABLE ${s}.blob_owners ADD COLUMN IF NOT EXISTS bytes bigint`);
    await q.query(
      `CREATE INDEX IF NOT EXISTS blob_owners_created_idx ON ${s}.blob_owners (created_at)`,
    );
    await q.query(
      `CREATE INDEX IF NOT EXISTS blob_owners_unsized_idx ON ${s}.blob_owners (sha256) WHERE bytes IS NULL`,
    );
    await q.query(`CREATE TABLE IF NOT EXISTS ${s}.project_storage (
      project text PRIMARY KEY,
      used_bytes bigint NOT NULL DEFAULT 0,
      blobs bigint NOT NULL DEFAULT 0,
      quota_bytes bigint CHECK (quota_bytes >= 0)
    )`);
    await q.query(
      `INSERT INTO ${s}.project_storage (project, used_bytes, blobs)
       SELECT project, coalesce(sum(bytes), 0), count(*) FROM ${s}.blob_owners GROUP BY project
       ON CONFLICT (project) DO NOTHING`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(`DROP TABLE IF EXISTS ${s}.project_storage`);
    await q.query(`DROP INDEX IF EXISTS ${s}.blob_owners_unsized_idx`);
    await q.query(`DROP INDEX IF EXISTS ${s}.blob_owners_created_idx`);
    await q.query(`ALTER TABLE ${s}.blob_owners DROP COLUMN IF EXISTS bytes`);
    await q.query(`ALTER TABLE ${s}.blob_owners DROP COLUMN IF EXISTS created_at`);
  }
}
