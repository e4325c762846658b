import { createHash, randomBytes } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import {
  AcaiError,
  AuthProblems,
  type CreatedKey,
  type KeyScope,
  type KeyView,
} from '@acai/contracts';
import { newId, type Logger } from '@acai/platform';
import type { Principal } from './access.js';
import { ApiKeyEntity, ProjectEntity } from './auth.entities.js';

export type { Principal } from './access.js';

export const PROJECT_NAME = /^[a-z0-9][a-z0-9-]{0,39}$/;

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** `lastUsedAt` is written at most this often per key (and replica): cheap, to the minute. */
const TOUCH_EVERY_MS = 60_000;

/**
 * Projects and their API keys. Keys are random 192-bit secrets, kept only as hashes. Answers of
 * `authenticate` are cached; a revocation anywhere reaches this cache through `forget` (the
 * revocation broadcast), and while that broadcast cannot be heard the cache is not used at all.
 */
export class KeysRepository {
  private readonly cache = new Map<string, { principal: Principal | null; at: number }>();
  private readonly touched = new Map<string, number>();
  /** False while the revocation broadcast may be missed (the bus is disconnected). */
  private cacheTrusted = true;
  /**
   * Counts revocations heard (and losses of the bus). A lookup that began before one is not cached:
   * it may have read the key just before it was revoked.
   */
  private generation = 0;

  constructor(
    private readonly db: DataSource,
    private readonly logger: Pick<Logger, 'warn'>,
    /** A backstop only: revocations are broadcast and applied at once. */
    private readonly cacheMs = 60_000,
  ) {}

  async authenticate(key: string): Promise<Principal | null> {
    const hash = hashKey(key);
    const hit = this.cacheTrusted ? this.cache.get(hash) : undefined;
    const principal =
      hit !== undefined && Date.now() - hit.at < this.cacheMs
        ? hit.principal
        : await this.load(hash);
    if (principal !== null) this.touch(principal.keyId);
    return principal;
  }

  private async load(hash: string): Promise<Principal | null> {
    const generation = this.generation;
    const row = await this.db.getRepository(ApiKeyEntity).findOneBy({ hash });
    const principal: Principal | null =
      row === null || row.revokedAt !== null
        ? null
        : {
            project: row.project,
            keyId: row.id,
            scope: row.scope,
            platformAdmin: row.platformAdmin,
          };
    if (this.cacheTrusted && generation === this.generation) {
      this.cache.set(hash, { principal, at: Date.now() });
      if (this.cache.size > 10_000) this.cache.delete(this.cache.keys().next().value!);
    }
    return principal;
  }

  /** Records, at most once a minute, that the key was used; a failure only costs the record. */
  private touch(keyId: string): void {
    const now = Date.now();
    if (now - (this.touched.get(keyId) ?? 0) < TOUCH_EVERY_MS) return;
    this.touched.set(keyId, now);
    if (this.touched.size > 10_000) this.touched.delete(this.touched.keys().next().value!);
    void this.db
      .getRepository(ApiKeyEntity)
      .update({ id: keyId }, { lastUsedAt: new Date(now) })
      .catch((error: unknown) =>
        this.logger.warn(
          { keyId, err: error instanceof Error ? error.message : String(error) },
          'could not record when the key was last used',
        ),
      );
  }

  /** Drops a revoked key from the cache: its next request is refused. */
  forget(keyId: string): void {
    this.generation++;
    for (const [hash, entry] of this.cache) {
      if (entry.principal?.keyId === keyId) this.cache.delete(hash);
    }
  }

  /**
   * Whether cached answers may be used. Off (and the cache emptied) while revocations could be
   * missed; on again, with an empty cache, once they are heard again.
   */
  trustCache(trusted: boolean): void {
    this.cacheTrusted = trusted;
    this.generation++;
    this.cache.clear();
  }

  /** Every project's name, in order. */
  async projectNames(): Promise<string[]> {
    const rows = await this.db.getRepository(ProjectEntity).find({ order: { name: 'ASC' } });
    return rows.map((row) => row.name);
  }

  async projectExists(name: string): Promise<boolean> {
    return (await this.db.getRepository(ProjectEntity).countBy({ name })) > 0;
  }

  /**
   * Refuses a project in a path that is not the caller's: `404` as if it did not exist (its
   * existence does not leak), unless the caller is the platform admin and the project exists.
   */
  async assertVisible(caller: Principal, project: string): Promise<void> {
    if (caller.project === project) return;
    if (caller.platformAdmin && (await this.projectExists(project))) return;
    throw new AcaiError(AuthProblems.PROJECT_NOT_FOUND, `No project '${project}' for this key`);
  }

  /**
   * Creates a project and its first key, of scope `admin`; `platformAdmin` only for `default`'s
   * first start. The key is returned once and never stored.
   */
  async createProject(name: string, platformAdmin: boolean): Promise<CreatedKey> {
    if (!PROJECT_NAME.test(name)) {
      throw new AcaiError(
        AuthProblems.PROJECT_NAME_INVALID,
        'Invalid project name: use 1-40 lower-case letters, digits and -',
        [{ path: 'name', message: 'expected 1-40 lower-case letters, digits and -' }],
      );
    }
    return this.db.transaction(async (m) => {
      const inserted = await m
        .createQueryBuilder()
        .insert()
        .into(ProjectEntity)
        .values({ name, createdAt: new Date() })
        .orIgnore()
        .returning('name')
        .execute();
      if ((inserted.raw as unknown[]).length === 0) {
        throw new AcaiError(AuthProblems.PROJECT_EXISTS, `Project '${name}' exists already`);
      }
      return insertKey(m, name, 'admin', null, platformAdmin);
    });
  }

  /** A new key of the project; the key is returned once and never stored. */
  createKey(project: string, scope: KeyScope, name: string | null): Promise<CreatedKey> {
    return this.db.transaction((m) => insertKey(m, project, scope, name, false));
  }

  /** Every key of the project, revoked ones too, oldest first. */
  async listKeys(project: string): Promise<KeyView[]> {
    const rows = await this.db
      .getRepository(ApiKeyEntity)
      .find({ where: { project }, order: { createdAt: 'ASC', id: 'ASC' } });
    return rows.map(viewOf);
  }

  /** Revokes a key of the project (again: nothing changes); 404 if the project has no such key. */
  async revokeKey(project: string, keyId: string): Promise<KeyView> {
    const keys = this.db.getRepository(ApiKeyEntity);
    await keys
      .createQueryBuilder()
      .update()
      .set({ revokedAt: new Date() })
      .where('id = :keyId AND project = :project AND revoked_at IS NULL', { keyId, project })
      .execute();
    const row = await keys.findOneBy({ id: keyId, project });
    if (row === null) {
      throw new AcaiError(AuthProblems.KEY_NOT_FOUND, `No key '${keyId}' in project '${project}'`);
    }
    this.forget(keyId);
    return viewOf(row);
  }
}

async function insertKey(
  m: EntityManager,
  project: string,
  scope: KeyScope,
  name: string | null,
  platformAdmin: boolean,
): Promise<CreatedKey> {
  const key = `acai_${randomBytes(24).toString('base64url')}`;
  const row: ApiKeyEntity = {
    id: newId('key'),
    hash: hashKey(key),
    project,
    prefix: key.slice(0, 10),
    scope,
    platformAdmin,
    name,
    createdAt: new Date(),
    lastUsedAt: null,
    revokedAt: null,
  };
  await m.insert(ApiKeyEntity, row);
  return { ...viewOf(row), key };
}

function viewOf(row: ApiKeyEntity): KeyView {
  return {
    id: row.id,
    project: row.project,
    name: row.name,
    prefix: row.prefix,
    scope: row.scope,
    createdAt: row.createdAt.toISOString(),
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
  };
}
