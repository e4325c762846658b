import type { DataSource, EntityManager } from 'typeorm';

/**
 * Takes locks on blobs for the length of one piece of work: `files` for blobs a commit names,
 * then `manifest` for the manifest it writes (in that order, the order every taker follows).
 */
export interface BlobLocks {
  files(blobs: readonly string[]): Promise<void>;
  manifest(sha256: string): Promise<void>;
}

/**
 * Who has which blob, and the locks that keep a commit and an eviction of the same bytes apart.
 *
 * Blobs are stored once, whoever uploads them, but owned per project: a project owns a blob once
 * it has shown it has the bytes (it uploaded them, or a job of it wrote them) or a version of it
 * uses the blob. A commit may name only blobs its project owns.
 *
 * An eviction deletes a blob only while holding it exclusively ({@link removing}), after checking
 * no version uses it; a commit holds the blobs it names and its manifest shared ({@link keeping})
 * from its check that they exist until its version is in the log. So an eviction either deletes
 * first (the commit then finds the blob missing) or sees the commit's version.
 */
export abstract class BlobsRepository {
  /** Records that the project has these blobs. */
  abstract own(project: string, blobs: readonly string[]): Promise<void>;
  /** Of these blobs, those the project does not own. */
  abstract unowned(project: string, blobs: readonly string[]): Promise<string[]>;
  /** Forgets every owner of these blobs (their bytes are about to be deleted). */
  abstract disown(blobs: readonly string[]): Promise<void>;
  /** Runs `work` holding the blobs it locks against any eviction, until `work` is done. */
  abstract keeping<T>(work: (locks: BlobLocks) => Promise<T>): Promise<T>;
  /** Runs `work` holding these blobs against any commit (and other evictions). */
  abstract removing<T>(blobs: readonly string[], work: () => Promise<T>): Promise<T>;
}

/**
 * Lock keys: Postgres advisory locks `(namespace, stripe)` in the two-int key space, one namespace
 * for blobs named as files and one for manifests; a blob's stripe is its first byte mod 64, so a
 * commit of 100,000 files takes at most 64 + 1 locks. Two blobs of a stripe only wait for each
 * other, never deadlock: every transaction locks in (namespace, stripe) order.
 */
const FILES = 0x626c6f62; // 'blob'
const MANIFESTS = FILES + 1;
const STRIPES = 64;

function stripes(blobs: readonly string[]): number[] {
  return [...new Set(blobs.map((sha) => parseInt(sha.slice(0, 2), 16) % STRIPES))].sort(
    (a, b) => a - b,
  );
}

export class SqlBlobsRepository implements BlobsRepository {
  constructor(
    private readonly db: DataSource,
    private readonly schema: string,
  ) {}

  private get table(): string {
    return `"${this.schema.replace(/"/g, '""')}".blob_owners`;
  }

  async own(project: string, blobs: readonly string[]): Promise<void> {
    if (blobs.length === 0) return;
    await this.db.query(
      `INSERT INTO ${this.table} (project, sha256)
       SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`,
      [project, [...new Set(blobs)]],
    );
  }

  async unowned(project: string, blobs: readonly string[]): Promise<string[]> {
    if (blobs.length === 0) return [];
    const rows = await this.db.query<{ sha256: string }[]>(
      `SELECT b.sha256 FROM unnest($2::text[]) AS b(sha256)
       WHERE NOT EXISTS (SELECT 1 FROM ${this.table} o WHERE o.project = $1 AND o.sha256 = b.sha256)`,
      [project, [...new Set(blobs)]],
    );
    return rows.map((r) => r.sha256);
  }

  async disown(blobs: readonly string[]): Promise<void> {
    if (blobs.length === 0) return;
    await this.db.query(`DELETE FROM ${this.table} WHERE sha256 = ANY($1::text[])`, [blobs]);
  }

  keeping<T>(work: (locks: BlobLocks) => Promise<T>): Promise<T> {
    return this.db.transaction((m) =>
      work({
        files: (blobs) => lock(m, 'shared', FILES, stripes(blobs)),
        manifest: (sha256) => lock(m, 'shared', MANIFESTS, stripes([sha256])),
      }),
    );
  }

  removing<T>(blobs: readonly string[], work: () => Promise<T>): Promise<T> {
    return this.db.transaction(async (m) => {
      await lock(m, 'exclusive', FILES, stripes(blobs));
      await lock(m, 'exclusive', MANIFESTS, stripes(blobs));
      return work();
    });
  }
}

/** Locks the stripes in the order given (ascending), until the transaction ends. */
async function lock(
  m: EntityManager,
  mode: 'shared' | 'exclusive',
  namespace: number,
  keys: readonly number[],
): Promise<void> {
  if (keys.length === 0) return;
  const fn = mode === 'shared' ? 'pg_advisory_xact_lock_shared' : 'pg_advisory_xact_lock';
  // unnest yields the keys in array order, and the aggregate takes each as it comes.
  await m.query(`SELECT count(${fn}($1::int, k)) FROM unnest($2::int[]) AS k`, [
    namespace,
    [...keys],
  ]);
}
