import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { TOKEN_KEY_BYTES } from './token-cipher.js';

/**
 * The demo's token encryption key: read from a file, or generated there
 * (mode 0600) on first start. Production sets TOKEN_ENCRYPTION_KEY instead.
 */
export function loadOrCreateKeyFile(path: string): Buffer {
  try {
    const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
    if (key.length !== TOKEN_KEY_BYTES) throw new Error(`${path} does not hold a ${TOKEN_KEY_BYTES}-byte base64 key`);
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = randomBytes(TOKEN_KEY_BYTES);
  mkdirSync(dirname(path), { recursive: true });
  // 'wx': never overwrite a key another process wrote a moment ago.
  try {
    writeFileSync(path, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreateKeyFile(path);
    throw error;
  }
  return key;
}
