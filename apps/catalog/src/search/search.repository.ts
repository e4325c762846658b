import type { DataSource } from 'typeorm';
import {
  AcaiError,
  FilesetProblems,
  type Creator,
  type FilesetHit,
  type Page,
  type VersionHit,
} from '@acai/contracts';
import { nest, type MetaPredicate, type Search } from '@acai/filesets';

/** Builds parameterised SQL: every value is a parameter, never text in the query. */
class Sql {
  readonly where: string[] = [];
  readonly params: unknown[] = [];
  param(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }
}

/** `$."a"."b"` for a jsonpath; path segments are already limited to [A-Za-z0-9_-]. */
function jsonPath(path: readonly string[]): string {
  return `$${path.map((k) => `."${k}"`).join('')}`;
}

/** The catalog's search tables, as its handler uses them. */
export abstract class SearchRepository {
  abstract versions(project: string, search: Search): Promise<Page<VersionHit>>;
  abstract filesets(project: string, search: Search): Promise<Page<FilesetHit>>;
}

/**
 * Search over the catalog's tables. Filters use the indexes: labels and metadata equality,
 * containment and existence through GIN; numeric ranges through the numbers table (versions) or a
 * cast (file sets, which are few); time and creator through b-trees. Pages by keyset cursor.
 */
export class SqlSearchRepository implements SearchRepository {
  constructor(
    private readonly db: DataSource,
    private readonly schema: string,
  ) {}

  private t(table: string): string {
    return `"${this.schema.replace(/"/g, '""')}".${table}`;
  }

  async versions(project: string, search: Search): Promise<Page<VersionHit>> {
    const q = new Sql();
    q.where.push(`v.project = ${q.param(project)}`);
    if (search.prefix !== null)
      q.where.push(`v.fileset LIKE ${q.param(`${escapeLike(search.prefix)}%`)}`);
    this.common(q, search, 'v');
    if (search.creatorJob !== null) q.where.push(`v.creator_job = ${q.param(search.creatorJob)}`);
    if (search.creatorRun !== null) q.where.push(`v.creator_run = ${q.param(search.creatorRun)}`);
    if (search.latest) q.where.push('v.is_latest');
    for (const p of search.meta) this.metaPredicate(q, p, 'v', project);
    const desc = search.sort !== 'created';
    if (search.sort === 'name') {
      throw new AcaiError(FilesetProblems.SEARCH_INVALID, 'Versions sort by created or -created', [
        { path: 'sort', message: 'expected created or -created' },
      ]);
    }
    const cursor = decodeCursor(search.cursor);
    if (cursor !== null) {
      q.where.push(
        `(v.created_at, v.id) ${desc ? '<' : '>'} (${q.param(cursor[0])}::timestamptz, ${q.param(cursor[1])}::bigint)`,
      );
    }
    const dir = desc ? 'DESC' : 'ASC';
    const rows = await this.db.query<
      (Omit<VersionHit, 'createdAt' | 'bytes' | 'latest'> & {
        id: string;
        created_at: Date;
        bytes: string;
        created_by: Creator;
        is_latest: boolean;
      })[]
    >(
      `SELECT v.id, v.fileset, v.version, v.metadata, v.labels, v.files, v.bytes, v.created_at, v.created_by,
              v.pinned, v.evicted, v.is_latest
       FROM ${this.t('versions')} v WHERE ${q.where.join(' AND ')}
       ORDER BY v.created_at ${dir}, v.id ${dir} LIMIT ${q.param(search.limit + 1)}`,
      q.params,
    );
    const items = rows.slice(0, search.limit).map((r) => ({
      fileset: r.fileset,
      version: r.version,
      metadata: r.metadata,
      labels: r.labels,
      files: r.files,
      bytes: Number(r.bytes),
      createdAt: r.created_at.toISOString(),
      createdBy: r.created_by,
      pinned: r.pinned,
      evicted: r.evicted,
      latest: r.is_latest,
    }));
    const last = rows.length > search.limit ? rows[search.limit - 1] : undefined;
    return {
      items,
      nextCursor:
        last === undefined ? null : encodeCursor([last.created_at.toISOString(), last.id]),
    };
  }

  async filesets(project: string, search: Search): Promise<Page<FilesetHit>> {
    const q = new Sql();
    q.where.push(`f.project = ${q.param(project)}`);
    if (search.prefix !== null)
      q.where.push(`f.name LIKE ${q.param(`${escapeLike(search.prefix)}%`)}`);
    this.common(q, search, 'f');
    for (const p of search.meta) this.metaPredicate(q, p, 'f', project);
    const cursor = decodeCursor(search.cursor);
    let order: string;
    if (search.sort === 'name') {
      if (cursor !== null) q.where.push(`f.name > ${q.param(cursor[1])}`);
      order = 'f.name ASC';
    } else {
      const desc = search.sort === '-created';
      if (cursor !== null) {
        q.where.push(
          `(f.created_at, f.name) ${desc ? '<' : '>'} (${q.param(cursor[0])}::timestamptz, ${q.param(cursor[1])})`,
        );
      }
      order = desc ? 'f.created_at DESC, f.name DESC' : 'f.created_at ASC, f.name ASC';
    }
    const rows = await this.db.query<
      {
        name: string;
        metadata: Record<string, unknown>;
        labels: string[];
        latest_version: number;
        created_at: Date;
        updated_at: Date;
      }[]
    >(
      `SELECT f.name, f.metadata, f.labels, f.latest_version, f.created_at, f.updated_at
       FROM ${this.t('filesets')} f WHERE ${q.where.join(' AND ')} ORDER BY ${order} LIMIT ${q.param(search.limit + 1)}`,
      q.params,
    );
    const items = rows.slice(0, search.limit).map((r) => ({
      name: r.name,
      metadata: r.metadata,
      labels: r.labels,
      latestVersion: r.latest_version,
      createdAt: r.created_at.toISOString(),
      updatedAt: r.updated_at.toISOString(),
    }));
    const last = rows.length > search.limit ? rows[search.limit - 1] : undefined;
    return {
      items,
      nextCursor:
        last === undefined ? null : encodeCursor([last.created_at.toISOString(), last.name]),
    };
  }

  private common(q: Sql, search: Search, alias: string): void {
    if (search.allLabels.length > 0)
      q.where.push(`${alias}.labels @> ${q.param(search.allLabels)}::text[]`);
    if (search.anyLabels.length > 0)
      q.where.push(`${alias}.labels && ${q.param(search.anyLabels)}::text[]`);
    if (search.createdAfter !== null)
      q.where.push(`${alias}.created_at >= ${q.param(search.createdAfter)}::timestamptz`);
    if (search.createdBefore !== null)
      q.where.push(`${alias}.created_at < ${q.param(search.createdBefore)}::timestamptz`);
  }

  private metaPredicate(q: Sql, p: MetaPredicate, alias: string, project: string): void {
    const column = `${alias}.metadata`;
    switch (p.op) {
      case 'eq':
        q.where.push(`${column} @> ${q.param(JSON.stringify(nest(p.path, p.value)))}::jsonb`);
        return;
      case 'contains':
        q.where.push(`${column} @> ${q.param(JSON.stringify(nest(p.path, [p.value])))}::jsonb`);
        return;
      case 'exists': {
        const test = `${column} @? ${q.param(jsonPath(p.path))}::jsonpath`;
        q.where.push(p.value === true ? test : `NOT (${test})`);
        return;
      }
      case 'gt':
      case 'gte':
      case 'lt':
      case 'lte': {
        const op = { gt: '>', gte: '>=', lt: '<', lte: '<=' }[p.op];
        if (alias === 'v') {
          q.where.push(
            `v.id IN (SELECT n.version_id FROM ${this.t('version_numbers')} n WHERE n.project = ${q.param(project)}
               AND n.key = ${q.param(p.path.join('.'))} AND n.value ${op} ${q.param(p.value)}::float8)`,
          );
        } else {
          q.where.push(
            `jsonb_typeof(${column} #> ${q.param(p.path)}::text[]) = 'number' AND (${column} #>> ${q.param(p.path)}::text[])::float8 ${op} ${q.param(p.value)}::float8`,
          );
        }
        return;
      }
      default: {
        const _exhaustive: never = p.op;
        return _exhaustive;
      }
    }
  }
}

function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function encodeCursor(key: [string, string]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

function decodeCursor(cursor: string | null): [string, string] | null {
  if (cursor === null) return null;
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as unknown;
    if (
      Array.isArray(parsed) &&
      parsed.length === 2 &&
      typeof parsed[0] === 'string' &&
      typeof parsed[1] === 'string'
    ) {
      return [parsed[0], parsed[1]];
    }
  } catch {
    // Fall through to the error.
  }
  throw new AcaiError(
    FilesetProblems.CURSOR_INVALID,
    'Invalid cursor: pass back the nextCursor of the previous page',
    [{ path: 'cursor', message: 'not a cursor this search gave' }],
  );
}
