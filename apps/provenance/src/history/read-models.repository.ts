import { AcaiError, ErrorCode, type Page } from '@acai/contracts';
import { ProjectionDocumentEntity } from '@acai/eventing';
import type { DataSource } from 'typeorm';

/** Reads projection documents; every read is scoped to one project. */
export class ReadModels {
  constructor(private readonly db: DataSource) {}

  async get<T>(projection: string, project: string, key: string, what: string): Promise<T> {
    const row = await this.db
      .getRepository(ProjectionDocumentEntity)
      .findOneBy({ projection, key, project });
    if (row === null)
      throw new AcaiError(ErrorCode.NotFound, `No ${what} '${key}' in this project`);
    return row.doc as T;
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
