import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { KeyScope } from '@acai/contracts';

@Entity({ name: 'projects' })
export class ProjectEntity {
  @PrimaryColumn({ type: 'text' })
  name!: string;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}

/** An API key, stored as the sha256 of its secret: a leaked table does not leak keys. */
@Entity({ name: 'api_keys' })
export class ApiKeyEntity {
  @PrimaryColumn({ type: 'text' })
  id!: string;

  @Index('api_keys_hash_idx', { unique: true })
  @Column({ type: 'text' })
  hash!: string;

  @Column({ type: 'text' })
  project!: string;

  /** First characters of the key, to tell keys apart in listings. */
  @Column({ type: 'text' })
  prefix!: string;

  /** `read`, `write` or `admin` of its project. */
  @Column({ type: 'text' })
  scope!: KeyScope;

  /**
   * The platform admin key (`default`'s first key): it also acts across projects. The column keeps
   * its first name, `admin`, so replicas of the previous release keep reading it during an upgrade.
   */
  @Column({ name: 'admin', type: 'boolean' })
  platformAdmin!: boolean;

  /** What it is for, as its creator named it. */
  @Column({ type: 'text', nullable: true })
  name!: string | null;

  /** Written at most once a minute per key and gateway replica. */
  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt!: Date | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;
}
