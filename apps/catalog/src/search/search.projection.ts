import type { EntityManager } from 'typeorm';
import type { StoredEvent } from '@acai/contracts';
import type { SqlProjection } from '@acai/eventing';
import { numericLeaves } from '@acai/filesets';

/**
 * `catalog-search`: file sets and versions in tables with GIN indexes on metadata and labels, and
 * the numeric leaves of version metadata in their own indexed table for range searches.
 */
export class SearchProjection implements SqlProjection {
  readonly name = 'catalog-search';

  constructor(
    private readonly schema: string,
    /** Reads a version's manifest (a blob), to record which blobs the version uses. */
    private readonly blobsOf: (manifestSha256: string) => Promise<readonly string[]>,
  ) {}

  private t(table: string): string {
    return `"${this.schema.replace(/"/g, '""')}".${table}`;
  }

  async apply(m: EntityManager, events: readonly StoredEvent[]): Promise<void> {
    for (const event of events) await this.applyOne(m, event);
  }

  async reset(m: EntityManager): Promise<void> {
    await m.query(
      `TRUNCATE ${this.t('version_numbers')}, ${this.t('versions')}, ${this.t('filesets')}`,
    );
  }

  async count(m: EntityManager): Promise<number> {
    const rows = await m.query<{ n: string }[]>(`SELECT count(*) AS n FROM ${this.t('versions')}`);
    return Number(rows[0]?.n ?? 0);
  }

  private async applyOne(m: EntityManager, event: StoredEvent): Promise<void> {
    const project = event.project;
    const name = event.aggregateId;
    switch (event.type) {
      case 'fileset.created':
        await m.query(
          `INSERT INTO ${this.t('filesets')} (project, name, metadata, labels, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT DO NOTHING`,
          [project, name, JSON.stringify(event.data.metadata), event.data.labels, event.occurredAt],
        );
        return;
      case 'fileset.version_committed': {
        const d = event.data;
        const creator = d.createdBy;
        await m.query(
          `UPDATE ${this.t('versions')} SET is_latest = false WHERE project = $1 AND fileset = $2 AND is_latest`,
          [project, name],
        );
        const rows = await m.query<{ id: string }[]>(
          `INSERT INTO ${this.t('versions')}
             (project, fileset, version, metadata, labels, files, bytes, manifest_sha256, created_at, created_by, creator_job, creator_run)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
           ON CONFLICT (project, fileset, version) DO NOTHING RETURNING id`,
          [
            project,
            name,
            d.version,
            JSON.stringify(d.metadata),
            d.labels,
            d.manifest.files,
            d.manifest.bytes,
            d.manifest.sha256,
            event.occurredAt,
            JSON.stringify(creator),
            creator.kind === 'job' ? creator.jobId : null,
            creator.kind === 'job' ? creator.runId : null,
          ],
        );
        const id = rows[0]?.id;
        if (id !== undefined) await this.writeNumbers(m, project, id, d.metadata);
        const blobs = [...new Set(await this.blobsOf(d.manifest.sha256))];
        if (blobs.length > 0) {
          await m.query(
            `INSERT INTO ${this.t('blob_refs')} (project, fileset, version, sha256)
             SELECT $1, $2, $3, unnest($4::text[]) ON CONFLICT DO NOTHING`,
            [project, name, d.version, blobs],
          );
        }
        await m.query(
          `UPDATE ${this.t('filesets')} SET latest_version = $3, updated_at = $4 WHERE project = $1 AND name = $2`,
          [project, name, d.version, event.occurredAt],
        );
        return;
      }
      case 'fileset.metadata_changed': {
        const { version } = event.data.target;
        const metadata = JSON.stringify(event.data.metadata);
        if (version === null) {
          await m.query(
            `UPDATE ${this.t('filesets')} SET metadata = $3, updated_at = $4 WHERE project = $1 AND name = $2`,
            [project, name, metadata, event.occurredAt],
          );
          return;
        }
        // TypeORM answers an UPDATE with [rows, count], not the rows alone.
        const [rows] = await m.query<[{ id: string }[], number]>(
          `UPDATE ${this.t('versions')} SET metadata = $4 WHERE project = $1 AND fileset = $2 AND version = $3 RETURNING id`,
          [project, name, version, metadata],
        );
        const id = rows[0]?.id;
        if (id !== undefined) {
          await m.query(`DELETE FROM ${this.t('version_numbers')} WHERE version_id = $1`, [id]);
          await this.writeNumbers(m, project, id, event.data.metadata);
        }
        return;
      }
      case 'fileset.labels_changed': {
        const { version } = event.data.target;
        if (version === null) {
          await m.query(
            `UPDATE ${this.t('filesets')} SET labels = $3, updated_at = $4 WHERE project = $1 AND name = $2`,
            [project, name, event.data.labels, event.occurredAt],
          );
        } else {
          await m.query(
            `UPDATE ${this.t('versions')} SET labels = $4 WHERE project = $1 AND fileset = $2 AND version = $3`,
            [project, name, version, event.data.labels],
          );
        }
        return;
      }
      case 'fileset.version_pinned':
        await m.query(
          `UPDATE ${this.t('versions')} SET pinned = $4 WHERE project = $1 AND fileset = $2 AND version = $3`,
          [project, name, event.data.version, event.data.pinned],
        );
        return;
      case 'fileset.version_evicted':
        await m.query(
          `DELETE FROM ${this.t('blob_refs')} WHERE project = $1 AND fileset = $2 AND version = $3`,
          [project, name, event.data.version],
        );
        await m.query(
          `UPDATE ${this.t('versions')} SET evicted = true WHERE project = $1 AND fileset = $2 AND version = $3`,
          [project, name, event.data.version],
        );
        return;
      default:
        return;
    }
  }

  private async writeNumbers(
    m: EntityManager,
    project: string,
    id: string,
    metadata: unknown,
  ): Promise<void> {
    const leaves = numericLeaves(metadata);
    if (leaves.length === 0) return;
    await m.query(
      `INSERT INTO ${this.t('version_numbers')} (version_id, project, key, value)
       SELECT $1, $2, k, v FROM unnest($3::text[], $4::float8[]) AS u(k, v)`,
      [id, project, leaves.map(([k]) => k), leaves.map(([, v]) => v)],
    );
  }
}
