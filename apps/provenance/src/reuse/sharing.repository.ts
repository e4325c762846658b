import type { DataSource } from 'typeorm';
import { PROJECT, type ReuseSharingView } from '@acai/contracts';
import type { EventLog } from '@acai/eventing';

/**
 * Whom a project shares its results with for reuse (`PUT /api/v1/projects/{name}/reuse-sharing`):
 * each change is appended as `project.reuse_sharing_changed` to the project's own aggregate, then
 * kept in `reuse_sharing`, where the reuse lookup (`findReusable`) reads it. Sharing is one-way
 * and explicit: a project's results are found by the runs of exactly the projects it names.
 */
export class ReuseSharing {
  constructor(
    private readonly db: DataSource,
    private readonly schema: string,
    private readonly log: EventLog,
  ) {}

  table(): string {
    return `"${this.schema.replace(/"/g, '""')}".reuse_sharing`;
  }

  async view(project: string): Promise<ReuseSharingView> {
    const rows = await this.db.query<{ project: string; shares_with: string }[]>(
      `SELECT project, shares_with FROM ${this.table()} WHERE project = $1 OR shares_with = $1
       ORDER BY project, shares_with`,
      [project],
    );
    return {
      project,
      with: rows.filter((r) => r.project === project).map((r) => r.shares_with),
      sharedWithIt: rows.filter((r) => r.shares_with === project).map((r) => r.project),
    };
  }

  /** Replaces the list; an unchanged list appends nothing. */
  async set(
    project: string,
    sharesWith: readonly string[],
    keyId: string | null,
  ): Promise<ReuseSharingView> {
    const next = [...new Set(sharesWith)].filter((p) => p !== project).sort();
    const before = (await this.view(project)).with;
    if (next.length === before.length && next.every((p, i) => p === before[i])) {
      return this.view(project);
    }
    await this.log.append(
      { project, aggregate: PROJECT, id: project },
      [{ type: 'project.reuse_sharing_changed', data: { with: next, before, keyId } }],
      { expectedVersion: 'any' },
    );
    await this.db.transaction(async (m) => {
      await m.query(`DELETE FROM ${this.table()} WHERE project = $1`, [project]);
      if (next.length > 0)
        await m.query(
          `INSERT INTO ${this.table()} (project, shares_with) SELECT $1, unnest($2::text[])`,
          [project, next],
        );
    });
    return this.view(project);
  }
}
