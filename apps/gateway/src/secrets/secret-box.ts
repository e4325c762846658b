import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** A secret as stored: AES-256-GCM ciphertext, its nonce and tag, and which key sealed it. */
export interface Sealed {
  readonly ciphertext: Buffer;
  readonly nonce: Buffer;
  readonly tag: Buffer;
  /** The first 8 hex of the key's sha256: a value sealed with another key is told apart. */
  readonly keyId: string;
}

/**
 * Encrypts secrets at rest with AES-256-GCM under a key from the environment
 * (`ACAI_SECRETS_KEY`, 32 bytes in base64). Each value gets a random 96-bit nonce; the project
 * and name are authenticated with it, so a value copied to another row does not decrypt.
 */
export class SecretBox {
  private readonly key: Buffer;
  readonly keyId: string;

  constructor(base64Key: string) {
    const key = Buffer.from(base64Key, 'base64');
    if (key.length !== 32) {
      throw new Error(
        'ACAI_SECRETS_KEY must be 32 random bytes in base64 (e.g. `openssl rand -base64 32`)',
      );
    }
    this.key = key;
    this.keyId = createHash('sha256').update(key).digest('hex').slice(0, 8);
  }

  seal(project: string, name: string, value: string): Sealed {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
    cipher.setAAD(aad(project, name));
    const ciphertext = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
    return { ciphertext, nonce, tag: cipher.getAuthTag(), keyId: this.keyId };
  }

  /** The value, or an error when it was sealed with another key or for another row. */
  open(project: string, name: string, sealed: Sealed): string {
    if (sealed.keyId !== this.keyId) {
      throw new Error(
        `secret '${name}' was stored with another ACAI_SECRETS_KEY (key ${sealed.keyId}, this gateway has ${this.keyId})`,
      );
    }
    const decipher = createDecipheriv('aes-256-gcm', this.key, sealed.nonce);
    decipher.setAAD(aad(project, name));
    decipher.setAuthTag(sealed.tag);
    return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]).toString('utf8');
  }
}

function aad(project: string, name: string): Buffer {
  return Buffer.from(`acai-secret/v1\u0000${project}\u0000${name}`, 'utf8');
}
