import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Encrypts secrets at rest (OAuth tokens, host links) with AES-256-GCM.
 *
 * Each value gets a fresh 96-bit IV; the stored form is
 * `v1.<iv>.<tag>.<ciphertext>` in base64url. The `context` (for example the
 * specialist id) is bound as additional authenticated data, so a ciphertext
 * copied to another row does not decrypt.
 */
export interface TokenCipher {
  encrypt(plaintext: string, context: string): string;
  /** @throws Error when the value was tampered with, or encrypted under another key or context. */
  decrypt(stored: string, context: string): string;
}

export const TOKEN_KEY_BYTES = 32;

export function createTokenCipher(key: Buffer): TokenCipher {
  if (key.length !== TOKEN_KEY_BYTES) throw new Error(`The token encryption key must be ${TOKEN_KEY_BYTES} bytes`);
  return {
    encrypt(plaintext, context) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return ['v1', iv, cipher.getAuthTag(), ciphertext].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
    },
    decrypt(stored, context) {
      const [version, iv, tag, ciphertext] = stored.split('.');
      if (version !== 'v1' || !iv || !tag || ciphertext === undefined) throw new Error('Not an encrypted token');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    },
  };
}
