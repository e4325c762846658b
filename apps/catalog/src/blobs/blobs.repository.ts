import type { DataSource, EntityManager } from 'typeorm';

/** What a commit may ask while it holds blobs (answered inside the hold). */
export interface BlobCheck {
  /** Of these blobs, those the project does not own. */
  unowned(project: string, blobs: readonly string[]): Promise<string[]>;
}

/** A version's blobs, as the commit that appended it references them until the search tables do. */
export interface VersionBlobs {
  readonly project: string;
  readonly fileset: string;
  readonly version: number;
  readonly blobs: readonly string[];
}

/** A blob a project shows it has, with its size as the store counted it. */
export interface OwnedBlob {
  readonly sha256: string;
  /** Null when the sender did not say (a sender of an earlier release): read from the store later. */
  readonly size: number | null;
}

/** A project's storage: the distinct blobs it owns, their bytes, and the quota set for it. */
export interface ProjectStorage {
  readonly usedBytes: number;
  readonly blobs: number;
  /** The quota the platform admin set for the project (0: none), or null: the default applies. */
  readonly quotaBytes: number | null;
}

/**
 * Whether the project may own blobs of these sizes (`adding`: those it does not own yet) besides
 * what it owns; it refuses by throwing.
 */
export type OwnCheck = (storage: ProjectStorage, adding: readonly number[]) => void;

/**
 * Who has which blob, and the holds that keep a commit and an eviction of the same bytes apart.
 *
 * Blobs are stored once, whoever uploads them, but owned per project: a project owns a blob once
 * it has shown it has the bytes (it uploaded them, or a job of it wrote them) or a version of it
 * uses the blob. A commit may name only blobs its project owns.
 *
 * A commit checks its blobs and records a hold on them in one step ({@link hold}); an eviction
 * checks that nothing uses a blob (no live version, no version's manifest, no hold) and deletes it
 * in one step ({@link collect}). The two steps exclude each other (Postgres advisory locks, shared
 * and exclusive), so either the eviction comes first (the commit then finds the blob missing and
 * disowned) or it sees the hold and keeps the blob. Once the version is in the log the commit
 * {@link settle}s: the hold becomes the version's references.
 */
export abstract class BlobsRepository {
  /**
   * Records that the project has these blobs, now (which starts their grace period again).
   * `check` runs first, with the project's storage and the sizes of the blobs it does not own yet,
   * while nothing else changes what the project owns; if it throws, nothing is recorded.
   */
  abstract own(project: string, blobs: readonly OwnedBlob[], check: OwnCheck): Promise<void>;
  /**
   * Runs `check` while no eviction can delete these blobs, then adds them to the hold `hold` (a
   * uuid; kept until {@link settle}) unless `check` throws. Answers what `check` answered.
   */
  abstract hold<T>(
    hold: string,
    blobs: readonly string[],
    check: (tx: BlobCheck) => Promise<T>,
  ): Promise<T>;
  /** Ends a hold: the version was appended (its blobs are referenced from now on) or not (null). */
  abstract settle(hold: string, appended: VersionBlobs | null): Promise<void>;
  /**
   * Of these blobs, deletes (with `remove`) those nothing uses, and forgets who owned them; answers
   * which. Holds older than a day (of a process that died mid-commit) no longer count.
   */
  abstract collect(
    blobs: readonly string[],
    remove: (sha256: string) => Promise<void>,
  ): Promise<string[]>;
}

/** Where a sweep is in the ownerships, oldest first: the last one a batch looked at. */
export interface SweepCursor {
  /** As Postgres writes it (to the microsecond, with its offset). */
  readonly createdAt: string;
  readonly project: string;
  readonly sha256: string;
}

/** What one batch of the sweep of uploads did. */
export interface Swept {
  /** Where the next batch starts; null: this one was the last. */
  readonly next: SweepCursor | null;
  /** Ownerships forgotten, and the bytes they counted against their projects' quotas. */
  readonly forgotten: number;
  readonly forgottenBytes: number;
  /** Blobs deleted from the store (nobody owned or used them any more), and their bytes. */
  readonly deleted: number;
  readonly deletedBytes: number;
}

/**
 * Each project's storage (what it owns, its quota), and the sweep of what no version uses.
 *
 * The sweep forgets an ownership that no version of its project uses (no live version's file, no
 * version's manifest) and that no commit holds, once the project last showed it has the blob
 * longer ago than the grace period; then it deletes from the store the blobs that nobody owns or
 * uses any more. It takes the same locks as an eviction, so a commit holding a blob keeps it.
 */
export abstract class StorageRepository {
  /** What the project owns, and the quota set for it. */
  abstract storage(project: string): Promise<ProjectStorage>;
  /** Whether the project owns this blob. */
  abstract owns(project: string, sha256: string): Promise<boolean>;
  /** Sets the project's own quota (0: none), or clears it (null: the default applies). */
  abstract setQuota(project: string, bytes: number | null): Promise<ProjectStorage>;
  /**
   * Runs `work` unless another replica of the catalog (of this schema) is running it; undefined
   * when another is.
   */
  abstract alone<T>(work: () => Promise<T>): Promise<T | undefined>;
  /**
   * One batch of the sweep: at most `limit` ownerships older than `graceSeconds` looked at, oldest
   * first, after `after` (null: from the oldest). A sweep is one pass: batch after batch, each from
   * where the last one ended, so ownerships that stay (committed) are looked at once per sweep.
   */
  abstract sweep(
    graceSeconds: number,
    limit: number,
    after: SweepCursor | null,
    remove: (sha256: string) => Promise<void>,
  ): Promise<Swept>;
  /** Of these blobs, deletes (with `remove`) those nobody owns or uses; answers which. */
  abstract collectUnowned(
    blobs: readonly string[],
    remove: (sha256: string) => Promise<void>,
  ): Promise<string[]>;
  /** Up to `limit` blobs owned without a known size. */
  abstract unsized(limit: number): Promise<string[]>;
  /** Records sizes read from the store, and counts them against their owners' quotas. */
  abstract recordSizes(sizes: readonly { sha256: string; size: number }[]): Promise<void>;
}

/**
 * Lock keys: Postgres advisory locks `(namespace, stripe)` in the two-int key space; a blob's
 * stripe is its first byte mod 64, so a commit of 100,000 files takes at most 64 locks, and two
 * blobs of a stripe merely wait for each other. Every transaction locks in ascending order, and
 * takes its stripes before any row of `project_storage` (those in ascending order of project), so
 * that no two steps wait for each other.
 */
const NAMESPACE = 0x626c6f62; // 'blob'
const STRIPES = 64;
/** The sweep's lock, `(SWEEP, hashtext(schema))`: one sweep at a time per catalog. */
const SWEEP = 0x73776570; // 'swep'
/** A hold this old is of a process that died mid-commit: it no longer keeps its blobs. */
const HOLD_EXPIRY = `interval '1 day'`;

function stripeOf(sha: string): number {
  return parseInt(sha.slice(0, 2), 16) % STRIPES;
}

function stripes(blobs: readonly string[]): number[] {
  return [...new Set(blobs.map(stripeOf))].sort((a, b) => a - b);
}

/** Postgres answers bigint and sums as strings. */
type Bigint = string | number;
interface StorageRow {
  used_bytes: Bigint;
  blobs: Bigint;
  quota_bytes: Bigint | null;
}

function storageOf(row: StorageRow | undefined): ProjectStorage {
  if (row === undefined) return { usedBytes: 0, blobs: 0, quotaBytes: null };
  return {
    usedBytes: Number(row.used_bytes),
    blobs: Number(row.blobs),
    quotaBytes: row.quota_bytes === null ? null : Number(row.quota_bytes),
  };
}

export class SqlBlobsRepository extends BlobsRepository implements StorageRepository {
  constructor(
    private readonly db: DataSource,
    private readonly schema: string,
  ) {
    super();
  }

  private t(table: string): string {
    return `"${this.schema.replace(/"/g, '""')}".${table}`;
  }

  own(project: string, blobs: readonly OwnedBlob[], check: OwnCheck): Promise<void> {
    const sizes = new Map<string, number | null>();
    for (const blob of blobs) if (!sizes.has(blob.sha256)) sizes.set(blob.sha256, blob.size);
    if (sizes.size === 0) return Promise.resolve();
    const shas = [...sizes.keys()];
    return this.db.transaction(async (m) => {
      // Shared, as a commit: no sweep or eviction forgets these blobs meanwhile. The project's row
      // keeps its other ownerships from changing until this one is counted.
      await lock(m, 'shared', stripes(shas));
      await m.query(
        `INSERT INTO ${this.t('project_storage')} (project) VALUES ($1) ON CONFLICT DO NOTHING`,
        [project],
      );
      const [row] = await m.query<StorageRow[]>(
        `SELECT used_bytes, blobs, quota_bytes FROM ${this.t('project_storage')}
         WHERE project = $1 FOR UPDATE`,
        [project],
      );
      const owned = await m.query<{ sha256: string; bytes: Bigint | null }[]>(
        `SELECT sha256, bytes FROM ${this.t('blob_owners')}
         WHERE project = $1 AND sha256 = ANY($2::text[])`,
        [project, shas],
      );
      const had = new Map(owned.map((r) => [r.sha256, r.bytes]));
      const adding = shas.filter((sha) => !had.has(sha));
      check(
        storageOf(row),
        adding.map((sha) => sizes.get(sha) ?? 0),
      );
      // Counted now: the blobs new to the project, and the sizes learnt of blobs it owned unsized.
      const counted = shas.filter((sha) => !had.has(sha) || had.get(sha) === null);
      const bytes = counted.reduce((sum, sha) => sum + (sizes.get(sha) ?? 0), 0);
      await m.query(
        `INSERT INTO ${this.t('blob_owners')} AS o (project, sha256, bytes, created_at)
         SELECT $1, b.sha256, b.bytes, now() FROM unnest($2::text[], $3::bigint[]) AS b(sha256, bytes)
         ON CONFLICT (project, sha256)
         DO UPDATE SET created_at = excluded.created_at, bytes = coalesce(o.bytes, excluded.bytes)`,
        [project, shas, shas.map((sha) => sizes.get(sha) ?? null)],
      );
      if (adding.length > 0 || bytes > 0) {
        await m.query(
          `UPDATE ${this.t('project_storage')}
           SET used_bytes = used_bytes + $2, blobs = blobs + $3 WHERE project = $1`,
          [project, bytes, adding.length],
        );
      }
    });
  }

  hold<T>(
    hold: string,
    blobs: readonly string[],
    check: (tx: BlobCheck) => Promise<T>,
  ): Promise<T> {
    // Every query of the step runs on its transaction's connection: a step never waits for a
    // second connection from the pool while it holds locks others wait for.
    return this.db.transaction(async (m) => {
      await lock(m, 'shared', stripes(blobs));
      const answer = await check({
        unowned: async (project, named) => {
          const rows = await m.query<{ sha256: string }[]>(
            `SELECT b.sha256 FROM unnest($2::text[]) AS b(sha256)
             WHERE NOT EXISTS (SELECT 1 FROM ${this.t('blob_owners')} o
                               WHERE o.project = $1 AND o.sha256 = b.sha256)`,
            [project, [...new Set(named)]],
          );
          return rows.map((r) => r.sha256);
        },
      });
      if (blobs.length > 0) {
        await m.query(
          `INSERT INTO ${this.t('blob_holds')} (hold, sha256, created_at)
           SELECT $1, unnest($2::text[]), now() ON CONFLICT DO NOTHING`,
          [hold, [...new Set(blobs)]],
        );
      }
      return answer;
    });
  }

  async settle(hold: string, appended: VersionBlobs | null): Promise<void> {
    await this.db.transaction(async (m) => {
      if (appended !== null && appended.blobs.length > 0) {
        // The rows the search projection writes for this version (and the manifest): written now,
        // the projection's later write of them is a no-op.
        await m.query(
          `INSERT INTO ${this.t('blob_refs')} (project, fileset, version, sha256)
           SELECT $1, $2, $3, unnest($4::text[]) ON CONFLICT DO NOTHING`,
          [appended.project, appended.fileset, appended.version, [...new Set(appended.blobs)]],
        );
      }
      await m.query(`DELETE FROM ${this.t('blob_holds')} WHERE hold = $1`, [hold]);
    });
  }

  collect(blobs: readonly string[], remove: (sha256: string) => Promise<void>): Promise<string[]> {
    if (blobs.length === 0) return Promise.resolve([]);
    return this.db.transaction(async (m) => {
      await lock(m, 'exclusive', stripes(blobs));
      const unused = await this.unused(m, blobs, { owned: 'ignored' });
      if (unused.length === 0) return [];
      await this.forgetOwners(m, unused);
      // Deleted while the lock is held: a commit checking these blobs waits, then finds them gone.
      for (const sha of unused) await remove(sha);
      return unused;
    });
  }

  // The storage side.

  async storage(project: string): Promise<ProjectStorage> {
    const [row] = await this.db.query<StorageRow[]>(
      `SELECT used_bytes, blobs, quota_bytes FROM ${this.t('project_storage')} WHERE project = $1`,
      [project],
    );
    return storageOf(row);
  }

  async owns(project: string, sha256: string): Promise<boolean> {
    const rows = await this.db.query<unknown[]>(
      `SELECT 1 FROM ${this.t('blob_owners')} WHERE project = $1 AND sha256 = $2`,
      [project, sha256],
    );
    return rows.length > 0;
  }

  async setQuota(project: string, bytes: number | null): Promise<ProjectStorage> {
    const [row] = await this.db.query<StorageRow[]>(
      `INSERT INTO ${this.t('project_storage')} (project, quota_bytes) VALUES ($1, $2)
       ON CONFLICT (project) DO UPDATE SET quota_bytes = excluded.quota_bytes
       RETURNING used_bytes, blobs, quota_bytes`,
      [project, bytes],
    );
    return storageOf(row);
  }

  async alone<T>(work: () => Promise<T>): Promise<T | undefined> {
    // A session lock, on a connection of its own for as long as the work runs: the work's own
    // transactions use other connections of the pool.
    const runner = this.db.createQueryRunner();
    await runner.connect();
    try {
      const [row] = (await runner.query(
        `SELECT pg_try_advisory_lock($1::int, hashtext($2)) AS locked`,
        [SWEEP, this.schema],
      )) as { locked: boolean }[];
      if (row?.locked !== true) return undefined;
      try {
        return await work();
      } finally {
        await runner.query(`SELECT pg_advisory_unlock($1::int, hashtext($2))`, [
          SWEEP,
          this.schema,
        ]);
      }
    } finally {
      await runner.release();
    }
  }

  async sweep(
    graceSeconds: number,
    limit: number,
    after: SweepCursor | null,
    remove: (sha256: string) => Promise<void>,
  ): Promise<Swept> {
    const candidates = await this.db.query<
      { project: string; sha256: string; created_at: string }[]
    >(
      `SELECT o.project, o.sha256, o.created_at::text AS created_at FROM ${this.t('blob_owners')} o
       WHERE ${this.stale('o')}
         AND ($3::timestamptz IS NULL
              OR (o.created_at, o.project, o.sha256) > ($3::timestamptz, $4::text, $5::text))
       ORDER BY o.created_at, o.project, o.sha256 LIMIT $2`,
      [
        graceSeconds,
        limit,
        after?.createdAt ?? null,
        after?.project ?? null,
        after?.sha256 ?? null,
      ],
    );
    const last = candidates.at(-1);
    // One transaction per stripe: commits of blobs of the other stripes go on meanwhile.
    const byStripe = new Map<number, { project: string; sha256: string }[]>();
    for (const c of candidates) {
      const stripe = stripeOf(c.sha256);
      byStripe.set(stripe, [...(byStripe.get(stripe) ?? []), c]);
    }
    let swept: Swept = {
      next:
        last === undefined || candidates.length < limit
          ? null
          : { createdAt: last.created_at, project: last.project, sha256: last.sha256 },
      forgotten: 0,
      forgottenBytes: 0,
      deleted: 0,
      deletedBytes: 0,
    };
    for (const stripe of [...byStripe.keys()].sort((a, b) => a - b)) {
      const batch = await this.sweepStripe(stripe, byStripe.get(stripe)!, graceSeconds, remove);
      swept = {
        ...swept,
        forgotten: swept.forgotten + batch.forgotten,
        forgottenBytes: swept.forgottenBytes + batch.forgottenBytes,
        deleted: swept.deleted + batch.deleted,
        deletedBytes: swept.deletedBytes + batch.deletedBytes,
      };
    }
    return swept;
  }

  /**
   * The condition of an ownership the sweep forgets, on `blob_owners` as `o` (`$1`: the grace
   * period in seconds): older than the grace period, used by no version of its project (as a file
   * of a live version, or as a manifest), held by no commit.
   */
  private stale(o: string): string {
    return `${o}.created_at < now() - make_interval(secs => $1::double precision)
       AND NOT EXISTS (SELECT 1 FROM ${this.t('blob_refs')} r
                       WHERE r.sha256 = ${o}.sha256 AND r.project = ${o}.project)
       AND NOT EXISTS (SELECT 1 FROM ${this.t('versions')} v
                       WHERE v.manifest_sha256 = ${o}.sha256 AND v.project = ${o}.project)
       AND NOT EXISTS (SELECT 1 FROM ${this.t('blob_holds')} h
                       WHERE h.sha256 = ${o}.sha256 AND h.created_at >= now() - ${HOLD_EXPIRY})`;
  }

  private sweepStripe(
    stripe: number,
    candidates: readonly { project: string; sha256: string }[],
    graceSeconds: number,
    remove: (sha256: string) => Promise<void>,
  ): Promise<Omit<Swept, 'next'>> {
    return this.db.transaction(async (m) => {
      await lock(m, 'exclusive', [stripe]);
      await this.lockProjects(
        m,
        candidates.map((c) => c.project),
      );
      // Looked at again under the lock: an upload since, or a commit, keeps the ownership.
      const gone = await m.query<{ project: string; sha256: string; bytes: Bigint | null }[]>(
        `WITH gone AS (
           DELETE FROM ${this.t('blob_owners')} o
           USING unnest($2::text[], $3::text[]) AS c(project, sha256)
           WHERE o.project = c.project AND o.sha256 = c.sha256 AND ${this.stale('o')}
           RETURNING o.project, o.sha256, o.bytes)
         SELECT project, sha256, bytes FROM gone`,
        [graceSeconds, candidates.map((c) => c.project), candidates.map((c) => c.sha256)],
      );
      await this.uncount(m, gone);
      const sizes = new Map(gone.map((g) => [g.sha256, Number(g.bytes ?? 0)]));
      const unused = await this.unused(m, [...sizes.keys()], { owned: 'keeps' });
      for (const sha of unused) await remove(sha);
      return {
        forgotten: gone.length,
        forgottenBytes: gone.reduce((sum, g) => sum + Number(g.bytes ?? 0), 0),
        deleted: unused.length,
        deletedBytes: unused.reduce((sum, sha) => sum + (sizes.get(sha) ?? 0), 0),
      };
    });
  }

  collectUnowned(
    blobs: readonly string[],
    remove: (sha256: string) => Promise<void>,
  ): Promise<string[]> {
    if (blobs.length === 0) return Promise.resolve([]);
    return this.db.transaction(async (m) => {
      await lock(m, 'exclusive', stripes(blobs));
      const unused = await this.unused(m, blobs, { owned: 'keeps' });
      for (const sha of unused) await remove(sha);
      return unused;
    });
  }

  async unsized(limit: number): Promise<string[]> {
    const rows = await this.db.query<{ sha256: string }[]>(
      `SELECT DISTINCT sha256 FROM ${this.t('blob_owners')} WHERE bytes IS NULL LIMIT $1`,
      [limit],
    );
    return rows.map((r) => r.sha256);
  }

  async recordSizes(sizes: readonly { sha256: string; size: number }[]): Promise<void> {
    if (sizes.length === 0) return;
    const shas = sizes.map((s) => s.sha256);
    await this.db.transaction(async (m) => {
      await lock(m, 'shared', stripes(shas));
      const owners = await m.query<{ project: string }[]>(
        `SELECT DISTINCT project FROM ${this.t('blob_owners')}
         WHERE sha256 = ANY($1::text[]) AND bytes IS NULL`,
        [shas],
      );
      const projects = owners.map((o) => o.project);
      await this.lockProjects(m, projects);
      const sized = await m.query<{ project: string; bytes: Bigint }[]>(
        `WITH sized AS (
           UPDATE ${this.t('blob_owners')} o SET bytes = s.size
           FROM unnest($1::text[], $2::bigint[]) AS s(sha256, size)
           WHERE o.sha256 = s.sha256 AND o.bytes IS NULL AND o.project = ANY($3::text[])
           RETURNING o.project, o.bytes)
         SELECT project, sum(bytes) AS bytes FROM sized GROUP BY project`,
        [shas, sizes.map((s) => s.size), projects],
      );
      await m.query(
        `UPDATE ${this.t('project_storage')} p SET used_bytes = p.used_bytes + d.bytes
         FROM unnest($1::text[], $2::bigint[]) AS d(project, bytes) WHERE p.project = d.project`,
        [sized.map((r) => r.project), sized.map((r) => Number(r.bytes))],
      );
    });
  }

  /**
   * Of these blobs, those nothing uses: no live version of any project, no version's manifest, no
   * commit's hold (holds over a day old are dropped first); and, when owners keep blobs, nobody
   * owns. Called under the exclusive lock of their stripes.
   */
  private async unused(
    m: EntityManager,
    blobs: readonly string[],
    { owned }: { owned: 'ignored' | 'keeps' },
  ): Promise<string[]> {
    if (blobs.length === 0) return [];
    await m.query(
      `DELETE FROM ${this.t('blob_holds')}
       WHERE sha256 = ANY($1::text[]) AND created_at < now() - ${HOLD_EXPIRY}`,
      [blobs],
    );
    const rows = await m.query<{ sha256: string }[]>(
      `SELECT b.sha256 FROM unnest($1::text[]) AS b(sha256)
       WHERE NOT EXISTS (SELECT 1 FROM ${this.t('blob_refs')} r WHERE r.sha256 = b.sha256)
         AND NOT EXISTS (SELECT 1 FROM ${this.t('versions')} v WHERE v.manifest_sha256 = b.sha256)
         AND NOT EXISTS (SELECT 1 FROM ${this.t('blob_holds')} h WHERE h.sha256 = b.sha256)
         ${owned === 'keeps' ? `AND NOT EXISTS (SELECT 1 FROM ${this.t('blob_owners')} o WHERE o.sha256 = b.sha256)` : ''}`,
      [[...new Set(blobs)]],
    );
    return rows.map((r) => r.sha256);
  }

  /** Forgets every owner of these blobs, and uncounts them. Under their stripes' exclusive lock. */
  private async forgetOwners(m: EntityManager, blobs: readonly string[]): Promise<void> {
    const owners = await m.query<{ project: string }[]>(
      `SELECT DISTINCT project FROM ${this.t('blob_owners')} WHERE sha256 = ANY($1::text[])`,
      [blobs],
    );
    await this.lockProjects(
      m,
      owners.map((o) => o.project),
    );
    const gone = await m.query<{ project: string; bytes: Bigint | null }[]>(
      `WITH gone AS (
         DELETE FROM ${this.t('blob_owners')} WHERE sha256 = ANY($1::text[])
         RETURNING project, bytes)
       SELECT project, bytes FROM gone`,
      [blobs],
    );
    await this.uncount(m, gone);
  }

  /** Locks these projects' storage rows, in ascending order (see the lock keys). */
  private async lockProjects(m: EntityManager, projects: readonly string[]): Promise<void> {
    if (projects.length === 0) return;
    await m.query(
      `SELECT project FROM ${this.t('project_storage')}
       WHERE project = ANY($1::text[]) ORDER BY project FOR UPDATE`,
      [[...new Set(projects)]],
    );
  }

  /** Takes ownerships just deleted off their projects' counts (their rows locked). */
  private async uncount(
    m: EntityManager,
    gone: readonly { project: string; bytes: Bigint | null }[],
  ): Promise<void> {
    const per = new Map<string, { bytes: number; blobs: number }>();
    for (const g of gone) {
      const sum = per.get(g.project) ?? { bytes: 0, blobs: 0 };
      per.set(g.project, { bytes: sum.bytes + Number(g.bytes ?? 0), blobs: sum.blobs + 1 });
    }
    if (per.size === 0) return;
    await m.query(
      `UPDATE ${this.t('project_storage')} p
       SET used_bytes = p.used_bytes - d.bytes, blobs = p.blobs - d.blobs
       FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS d(project, bytes, blobs)
       WHERE p.project = d.project`,
      [
        [...per.keys()],
        [...per.values()].map((v) => v.bytes),
        [...per.values()].map((v) => v.blobs),
      ],
    );
  }
}

/** Locks the stripes (ascending) until the transaction ends. */
async function lock(
  m: EntityManager,
  mode: 'shared' | 'exclusive',
  keys: readonly number[],
): Promise<void> {
  if (keys.length === 0) return;
  const fn = mode === 'shared' ? 'pg_advisory_xact_lock_shared' : 'pg_advisory_xact_lock';
  // unnest yields the keys in array order, and the aggregate takes each as it comes.
  await m.query(`SELECT count(${fn}($1::int, k)) FROM unnest($2::int[]) AS k`, [
    NAMESPACE,
    [...keys],
  ]);
}
