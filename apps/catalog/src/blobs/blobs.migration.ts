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
