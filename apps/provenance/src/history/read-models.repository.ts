import type { Page } from '@acai/contracts';
import { ProjectionDocumentEntity } from '@acai/eventing';
import type { DataSource } from 'typeorm';

/** The documents of provenance's read models (runs, jobs, job history); every read is per project. */
export abstract class ReadModels {
  /** One document, or undefined when the project has none under that key. */
  abstract find<T>(projection: string, project: string, key: string): Promise<T | undefined>;
  /** Newest first, a page at a time. */
  abstract list<T>(
    projection: string,
    project: string,
    limit: number,
    cursor: string | null,
  ): Promise<Page<T>>;
}

/** The documents in Postgres, as the projection runner stores them. */
export class SqlReadModels implements ReadModels {
  constructor(private readonly db: DataSource) {}

  async find<T>(projection: string, project: string, key: string): Promise<T | undefined> {
    const row = await this.db
      .getRepository(ProjectionDocumentEntity)
      .findOneBy({ projection, key, project });
    return row === null ? undefined : (row.doc as T);
  }

  /** Newest first; ids are time-ordered, so the cursor is the last key seen. */
  async list<T>(
    projection: string,
    project: string,
    limit: number,
    cursor: string | null,
  ): Promise<Page<T>> {
    const query = this.db
      .getRepository(ProjectionDocumentEntity)
      .createQueryBuilder('d')
      .where('d.projection = :projection AND d.project = :project', { projection, project })
      .orderBy('d.key', 'DESC')
      .limit(limit + 1);
    if (cursor !== null) query.andWhere('d.key < :cursor', { cursor });
    const rows = await query.getMany();
    const items = rows.slice(0, limit).map((r) => r.doc as T);
    const last = rows.length > limit ? rows[limit - 1] : undefined;
    return { items, nextCursor: last === undefined ? null : last.key };
  }
}
