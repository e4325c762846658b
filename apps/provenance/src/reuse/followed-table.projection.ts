import type { EntityManager } from 'typeorm';
import type { StoredEvent } from '@acai/contracts';
import {
  promoteBuiltTables,
  resetBuiltTables,
  type CommittedBatch,
  type SqlProjection,
} from '@acai/eventing';
import type { TableFollower } from './reuse-lookup.js';

/**
 * A SQL projection kept in one table of provenance's schema that an in-memory copy (the reuse
 * lookup's) follows: the copy is told of each committed batch, and of a replay's table put in the
 * live one's place. A replay builds into `<table>_replay` (projection `<name>~replay`), made like
 * the live table (columns, keys, indexes) and empty, and the swap promotes it.
 */
export abstract class FollowedTableProjection implements SqlProjection {
  readonly name: string;
  private readonly tableName: string;

  /**
   * @param follower the in-memory copy told of each committed batch (none for a replay's build)
   * @param replaying whether this is the replay's build, in the table of its own
   */
  protected constructor(
    projection: string,
    protected readonly schema: string,
    private readonly liveTable: string,
    private readonly follower: TableFollower | undefined,
    private readonly replaying: boolean,
  ) {
    this.name = replaying ? `${projection}~replay` : projection;
    this.tableName = replaying ? `${liveTable}_replay` : liveTable;
  }

  /** The same projection building the replay's table. */
  protected abstract replay(): FollowedTableProjection;

  abstract apply(m: EntityManager, events: readonly StoredEvent[]): Promise<void>;

  table(): string {
    return this.quoted(this.tableName);
  }

  /** The replay's build, in a table of its own put in the live one's place by the swap. */
  replica(): SqlProjection & { promote(m: EntityManager): Promise<void> } {
    const live = this.table();
    const shadow = this.replay();
    return Object.assign(shadow, {
      promote: async (m: EntityManager) => {
        await promoteBuiltTables(m, [[live, shadow.table()]]);
        this.follower?.replaced();
      },
    });
  }

  committed(batch: CommittedBatch): void {
    this.follower?.committed(batch);
  }

  async reset(m: EntityManager): Promise<void> {
    if (this.replaying) await resetBuiltTables(m, [[this.quoted(this.liveTable), this.table()]]);
    else await m.query(`TRUNCATE ${this.table()}`);
  }

  async count(m: EntityManager): Promise<number> {
    const rows = await m.query<{ n: string }[]>(`SELECT count(*) AS n FROM ${this.table()}`);
    return Number(rows[0]?.n ?? 0);
  }

  private quoted(table: string): string {
    return `"${this.schema.replace(/"/g, '""')}".${table}`;
  }
}
