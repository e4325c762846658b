import { createHash, randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { AcaiError, AuthProblems } from '@acai/contracts';
import { newId } from '@acai/platform';
import { ApiKeyEntity, ProjectEntity } from './auth.entities.js';

export interface Principal {
  readonly project: string;
  readonly keyId: string;
  readonly admin: boolean;
}

export const PROJECT_NAME = /^[a-z0-9][a-z0-9-]{0,39}$/;

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** Projects and their API keys. Keys are random 192-bit secrets, kept only as hashes. */
export class KeysRepository {
  private readonly cache = new Map<string, { principal: Principal | null; at: number }>();

  constructor(
    private readonly db: DataSource,
    private readonly cacheMs = 30_000,
  ) {}

  async authenticate(key: string): Promise<Principal | null> {
    const hash = hashKey(key);
    const hit = this.cache.get(hash);
    if (hit !== undefined && Date.now() - hit.at < this.cacheMs) return hit.principal;
    const row = await this.db.getRepository(ApiKeyEntity).findOneBy({ hash });
    const principal =
      row === null || row.revokedAt !== null
        ? null
        : { project: row.project, keyId: row.id, admin: row.admin };
    this.cache.set(hash, { principal, at: Date.now() });
    if (this.cache.size > 10_000) this.cache.delete(this.cache.keys().next().value!);
    return principal;
  }

  async projectExists(name: string): Promise<boolean> {
    return (await this.db.getRepository(ProjectEntity).countBy({ name })) > 0;
  }

  /** Creates a project and its first key; the key is returned once and never stored. */
  async createProject(
    name: string,
    admin: boolean,
  ): Promise<{ project: string; keyId: string; key: string }> {
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
      const key = `acai_${randomBytes(24).toString('base64url')}`;
      const keyId = newId('key');
      await m.insert(ApiKeyEntity, {
        id: keyId,
        hash: hashKey(key),
        project: name,
        prefix: key.slice(0, 10),
        admin,
        createdAt: new Date(),
        revokedAt: null,
      });
      return { project: name, keyId, key };
    });
  }
}
