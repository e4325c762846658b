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
  /** Records that the project has these blobs. */
  abstract own(project: string, blobs: readonly string[]): Promise<void>;
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

/**
 * Lock keys: Postgres advisory locks `(namespace, stripe)` in the two-int key space; a blob's
 * stripe is its first byte mod 64, so a commit of 100,000 files takes at most 64 locks, and two
 * blobs of a stripe merely wait for each other. Every transaction locks in ascending order.
 */
const NAMESPACE = 0x626c6f62; // 'blob'
const STRIPES = 64;

function stripes(blobs: readonly string[]): number[] {
  return [...new Set(blobs.map((sha) => parseInt(sha.slice(0, 2), 16) % STRIPES))].sort(
    (a, b) => a - b,
  );
}

export class SqlBlobsRepository extends BlobsRepository {
  constructor(
    private readonly db: DataSource,
    private readonly schema: string,
  ) {
    super();
  }

  private t(table: string): string {
    return `"${this.schema.replace(/"/g, '""')}".${table}`;
  }

  async own(project: string, blobs: readonly string[]): Promise<void> {
    if (blobs.length === 0) return;
    await this.db.query(
      `INSERT INTO ${this.t('blob_owners')} (project, sha256)
       SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`,
      [project, [...new Set(blobs)]],
    );
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
      await m.query(
        `DELETE FROM ${this.t('blob_holds')}
         WHERE sha256 = ANY($1::text[]) AND created_at < now() - interval '1 day'`,
        [blobs],
      );
      const rows = await m.query<{ sha256: string }[]>(
        `SELECT b.sha256 FROM unnest($1::text[]) AS b(sha256)
         WHERE NOT EXISTS (SELECT 1 FROM ${this.t('blob_refs')} r WHERE r.sha256 = b.sha256)
           AND NOT EXISTS (SELECT 1 FROM ${this.t('versions')} v WHERE v.manifest_sha256 = b.sha256)
           AND NOT EXISTS (SELECT 1 FROM ${this.t('blob_holds')} h WHERE h.sha256 = b.sha256)`,
        [[...new Set(blobs)]],
      );
      const unused = rows.map((r) => r.sha256);
      if (unused.length === 0) return [];
      await m.query(`DELETE FROM ${this.t('blob_owners')} WHERE sha256 = ANY($1::text[])`, [
        unused,
      ]);
      // Deleted while the lock is held: a commit checking these blobs waits, then finds them gone.
      for (const sha of unused) await remove(sha);
      return unused;
    });
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
