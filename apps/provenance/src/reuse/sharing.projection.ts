import type { EntityManager } from 'typeorm';
import type { StoredEvent } from '@acai/contracts';
import { FollowedTableProjection } from './followed-table.projection.js';
import type { TableFollower } from './reuse-lookup.js';

/**
 * `reuse-sharing`: whom each project shares its results with, one row per (project, project it
 * shares with), as the project's last `project.reuse_sharing_changed` set it. The reuse lookup
 * reads it (`findReusable` finds the results of projects that share with the asking one).
 */
export class SharingProjection extends FollowedTableProjection {
  /** @param follower the in-memory copy the lookup answers from, told of each committed batch */
  constructor(schema: string, follower?: TableFollower, replaying = false) {
    super('reuse-sharing', schema, 'reuse_sharing', follower, replaying);
  }

  protected replay(): SharingProjection {
    return new SharingProjection(this.schema, undefined, true);
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
}
