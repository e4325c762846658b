import type { DataSource } from 'typeorm';
import type { Page, Projection } from '@acai/contracts';
import { ProjectionDocumentEntity } from '@acai/eventing';

export interface FilesetSummary {
  readonly project: string;
  readonly name: string;
  readonly metadata: Record<string, unknown>;
  readonly labels: readonly string[];
  readonly latestVersion: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** `filesets`: one summary per file set, for listing. Keyed `<project>/<name>`. */
export const filesetsProjection: Projection<FilesetSummary> = {
  name: 'filesets',
  keys: (event) => (event.aggregate === 'fileset' ? [`${event.project}/${event.aggregateId}`] : []),
  evolve(doc, event) {
    if (event.type === 'fileset.created') {
      return {
        project: event.project,
        name: event.data.name,
        metadata: event.data.metadata,
        labels: event.data.labels,
        latestVersion: 0,
        createdAt: event.occurredAt,
        updatedAt: event.occurredAt,
      };
    }
    if (doc === undefined) return undefined;
    switch (event.type) {
      case 'fileset.version_committed':
        return { ...doc, latestVersion: event.data.version, updatedAt: event.occurredAt };
      case 'fileset.metadata_changed':
        return event.data.target.version === null
          ? { ...doc, metadata: event.data.metadata, updatedAt: event.occurredAt }
          : doc;
      case 'fileset.labels_changed':
        return event.data.target.version === null
          ? { ...doc, labels: event.data.labels, updatedAt: event.occurredAt }
          : doc;
      default:
        return doc;
    }
  },
};

export class FilesetsReadModel {
  constructor(private readonly db: DataSource) {}

  /** File sets of a project by name, optionally those starting with `prefix`, a page at a time. */
  async list(
    project: string,
    prefix: string | null,
    limit: number,
    cursor: string | null,
  ): Promise<Page<FilesetSummary>> {
    const query = this.db
      .getRepository(ProjectionDocumentEntity)
      .createQueryBuilder('d')
      .where('d.projection = :projection AND d.project = :project', {
        projection: 'filesets',
        project,
      })
      .orderBy('d.key', 'ASC')
      .limit(limit + 1);
    if (prefix !== null)
      query.andWhere('d.key LIKE :prefix', { prefix: `${project}/${escapeLike(prefix)}%` });
    if (cursor !== null) query.andWhere('d.key > :cursor', { cursor: `${project}/${cursor}` });
    const rows = await query.getMany();
    const items = rows.slice(0, limit).map((r) => r.doc as FilesetSummary);
    return { items, nextCursor: rows.length > limit ? items.at(-1)!.name : null };
  }
}

function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}
