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
 * `reuse-sharing`: whom each project shares its results with, one row per (project, project it
 * shares with), as the project's last `project.reuse_sharing_changed` set it. The reuse lookup
 * reads it (`findReusable` finds the results of projects that share with the asking one).
 */
export class SharingProjection implements SqlProjection {
  readonly name: string = 'reuse-sharing';

  /** @param follower the in-memory copy the lookup answers from, told of each committed batch */
  constructor(
    protected readonly schema: string,
    private readonly follower?: TableFollower,
    private readonly tableName = 'reuse_sharing',
  ) {}

  table(): string {
    return `"${this.schema.replace(/"/g, '""')}".${this.tableName}`;
  }

  /** The replay's build, in a table of its own put in the live one's place by the swap. */
  replica(): SqlProjection & { promote(m: EntityManager): Promise<void> } {
    const live = this.table();
    const shadow = new SharingReplica(this.schema);
    return Object.assign(shadow, {
      promote: async (m: EntityManager) => {
        await promoteBuiltTables(m, [[live, shadow.table()]]);
        this.follower?.replaced();
      },
    });
  }

  async apply(m: EntityManager, events: readonly StoredEvent[]): Promise<void> {
    for (const event of events) {
      if (event.type !== 'project.reuse_sharing_changed') continue;
      await m.query(`DELETE FROM ${this.table()} WHERE project = $1`, [event.project]);
      await m.query(
        `INSERT INTO ${this.table()} (project, shares_with)
         SELECT DISTINCT $1, w FROM unnest($2::text[]) AS w WHERE w <> $1`,
        [event.project, event.data.with],
      );
    }
  }

  committed(batch: CommittedBatch): void {
    this.follower?.committed(batch);
  }

  async reset(m: EntityManager): Promise<void> {
    await m.query(`TRUNCATE ${this.table()}`);
  }

  async count(m: EntityManager): Promise<number> {
    const rows = await m.query<{ n: string }[]>(`SELECT count(*) AS n FROM ${this.table()}`);
    return Number(rows[0]?.n ?? 0);
  }
}

/** `reuse-sharing~replay`: the replay's build, in `reuse_sharing_replay`. */
class SharingReplica extends SharingProjection {
  override readonly name = 'reuse-sharing~replay';

  constructor(schema: string) {
    super(schema, undefined, 'reuse_sharing_replay');
  }

  /** Made like the live table (columns, keys, indexes), empty. */
  override async reset(m: EntityManager): Promise<void> {
    const live = `"${this.schema.replace(/"/g, '""')}".reuse_sharing`;
    await resetBuiltTables(m, [[live, this.table()]]);
  }
}
