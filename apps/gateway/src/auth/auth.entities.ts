import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

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

  @Column({ type: 'boolean' })
  admin!: boolean;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;
}
