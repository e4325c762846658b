import type { DataSource } from 'typeorm';
import { AcaiError, PROJECT, RunProblems, type ReuseSharingView } from '@acai/contracts';
import type { EventLog } from '@acai/eventing';

/** How long a change of sharing waits for the `reuse-sharing` projection to apply it. */
const APPLIED_WITHIN_MS = 10_000;

/**
 * Whom a project shares its results with for reuse (`PUT /api/v1/projects/{name}/reuse-sharing`):
 * each change is appended as `project.reuse_sharing_changed` to the project's own aggregate, and
 * the `reuse-sharing` projection (`SharingProjection`) keeps it in `reuse_sharing`, where the reuse
 * lookup reads it. `set` answers once the projection has applied the change (read-your-writes).
 * Sharing is one-way and explicit: a project's results are found by the runs of exactly the
 * projects it names.
 */
export class ReuseSharing {
  /**
   * @param applied waits (at most `timeoutMs`) until the projections have applied the log up to
   *   `seq`; whether they did
   */
  constructor(
    private readonly db: DataSource,
    private readonly schema: string,
    private readonly log: EventLog,
    private readonly applied: (seq: number, timeoutMs: number) => Promise<boolean>,
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
    const [appended] = await this.log.append(
      { project, aggregate: PROJECT, id: project },
      [{ type: 'project.reuse_sharing_changed', data: { with: next, before, keyId } }],
      { expectedVersion: 'any' },
    );
    if (!(await this.applied(appended!.position.seq, APPLIED_WITHIN_MS))) {
      throw new AcaiError(
        RunProblems.PROVENANCE_BEHIND,
        `Project '${project}' now shares its results with ${next.length === 0 ? 'no project' : next.map((p) => `'${p}'`).join(', ')}, but provenance has not applied the change within ${APPLIED_WITHIN_MS / 1000} s: runs may not see it yet. Read it back with GET in a moment.`,
      );
    }
    return this.view(project);
  }
}
