import type { DataSource } from 'typeorm';
import { AcaiError, SecretProblems, type SecretView } from '@acai/contracts';
import type { SecretBox } from './secret-box.js';

interface SecretRow {
  name: string;
  ciphertext: Buffer;
  nonce: Buffer;
  tag: Buffer;
  key_id: string;
  created_at: Date;
  updated_at: Date;
}

/**
 * A project's secrets, encrypted at rest. Values go in (put) and out only to an executor starting
 * a job (resolve); listings show names and dates.
 */
export class SecretsRepository {
  constructor(
    private readonly db: DataSource,
    private readonly schema: string,
    /** Undefined when ACAI_SECRETS_KEY is not set: secrets are off, and say so. */
    private readonly box: SecretBox | undefined,
  ) {}

  private get table(): string {
    return `"${this.schema.replace(/"/g, '""')}".secrets`;
  }

  private sealer(): SecretBox {
    if (this.box === undefined) {
      throw new AcaiError(
        SecretProblems.SECRETS_NOT_CONFIGURED,
        'Secrets are off on this gateway: set ACAI_SECRETS_KEY to 32 random bytes in base64 (`openssl rand -base64 32`; npm run up makes one) and restart it',
      );
    }
    return this.box;
  }

  async put(project: string, name: string, value: string): Promise<SecretView> {
    const sealed = this.sealer().seal(project, name, value);
    const now = new Date();
    const rows = await this.db.query<SecretRow[]>(
      `INSERT INTO ${this.table} (project, name, ciphertext, nonce, tag, key_id, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
       ON CONFLICT (project, name) DO UPDATE SET ciphertext = $3, nonce = $4, tag = $5, key_id = $6, updated_at = $7
       RETURNING name, created_at, updated_at`,
      [project, name, sealed.ciphertext, sealed.nonce, sealed.tag, sealed.keyId, now],
    );
    return view(rows[0]!);
  }

  async list(project: string): Promise<SecretView[]> {
    const rows = await this.db.query<SecretRow[]>(
      `SELECT name, created_at, updated_at FROM ${this.table} WHERE project = $1 ORDER BY name`,
      [project],
    );
    return rows.map(view);
  }

  async remove(project: string, name: string): Promise<SecretView> {
    // TypeORM answers a DELETE … RETURNING as [rows, count].
    const [rows] = await this.db.query<[SecretRow[], number]>(
      `DELETE FROM ${this.table} WHERE project = $1 AND name = $2 RETURNING name, created_at, updated_at`,
      [project, name],
    );
    if (rows[0] === undefined) throw notFound(project, name);
    return view(rows[0]);
  }

  /** The names of `names` that the project has no secret of. */
  async missing(project: string, names: readonly string[]): Promise<string[]> {
    if (names.length === 0) return [];
    const rows = await this.db.query<{ name: string }[]>(
      `SELECT name FROM ${this.table} WHERE project = $1 AND name = ANY($2)`,
      [project, [...new Set(names)]],
    );
    const found = new Set(rows.map((r) => r.name));
    return [...new Set(names)].filter((n) => !found.has(n));
  }

  /** Every value asked for; a name the project has no secret of is an error naming it. */
  async resolve(project: string, names: readonly string[]): Promise<Record<string, string>> {
    const box = this.sealer();
    const rows = await this.db.query<SecretRow[]>(
      `SELECT name, ciphertext, nonce, tag, key_id FROM ${this.table} WHERE project = $1 AND name = ANY($2)`,
      [project, [...new Set(names)]],
    );
    const values: Record<string, string> = {};
    for (const row of rows) {
      values[row.name] = box.open(project, row.name, {
        ciphertext: row.ciphertext,
        nonce: row.nonce,
        tag: row.tag,
        keyId: row.key_id,
      });
    }
    const absent = names.find((n) => values[n] === undefined);
    if (absent !== undefined) throw notFound(project, absent);
    return values;
  }
}

function notFound(project: string, name: string): AcaiError {
  return new AcaiError(
    SecretProblems.SECRET_NOT_FOUND,
    `Project '${project}' has no secret '${name}': create it with PUT /api/v1/projects/${project}/secrets/${name}`,
  );
}

function view(row: Pick<SecretRow, 'name' | 'created_at' | 'updated_at'>): SecretView {
  return {
    name: row.name,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}
