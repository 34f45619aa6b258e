import type { Context } from 'hono';
import { parseAccept } from 'hono/utils/accept';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

interface Encodings {
  identity: Buffer;
  br?: Buffer;
  gzip?: Buffer;
}

/** Below this size compression saves less than it costs (the compress middleware's threshold too). */
const MIN_COMPRESSED_BYTES = 1024;

/**
 * Sends JSON whose body is serialized — and compressed, per encoding — once
 * per `source` object, not once per request. For answers a domain cache hands
 * out again and again as the same object (slot lists): the response is a
 * memory copy, and a browser gets Brotli, which the compress middleware does
 * not offer. The encodings go when `source` is garbage.
 *
 * @param toBody builds the body from `source`, on the first request only.
 */
export function sendSharedJson<T extends object>(c: Context, source: T, toBody: (source: T) => unknown): Response {
  let encodings = cache.get(source);
  if (!encodings) {
    encodings = { identity: Buffer.from(JSON.stringify(toBody(source))) };
    cache.set(source, encodings);
  }
  const headers: Record<string, string> = { 'Content-Type': 'application/json', Vary: 'Accept-Encoding' };
  const encoding = encodings.identity.length < MIN_COMPRESSED_BYTES ? undefined : chooseEncoding(c.req.header('accept-encoding'));
  if (encoding === 'br') {
    encodings.br ??= brotliCompressSync(encodings.identity, {
      // Quality 5 is most of quality 11's gain at a small fraction of its time.
      params: { [constants.BROTLI_PARAM_QUALITY]: 5, [constants.BROTLI_PARAM_SIZE_HINT]: encodings.identity.length },
    });
    return c.body(bodyOf(encodings.br), 200, { ...headers, 'Content-Encoding': 'br', 'Content-Length': String(encodings.br.length) });
  }
  if (encoding === 'gzip') {
    encodings.gzip ??= gzipSync(encodings.identity);
    return c.body(bodyOf(encodings.gzip), 200, { ...headers, 'Content-Encoding': 'gzip', 'Content-Length': String(encodings.gzip.length) });
  }
  // With its length stated, the compress middleware leaves a small body alone, as this function does.
  return c.body(bodyOf(encodings.identity), 200, { ...headers, 'Content-Length': String(encodings.identity.length) });
}

const cache = new WeakMap<object, Encodings>();

// Node's Buffers are Uint8Arrays over a plain ArrayBuffer (zlib and Buffer.from never hand out shared memory).
const bodyOf = (buffer: Buffer) => buffer as Uint8Array<ArrayBuffer>;

type Encoding = 'br' | 'gzip' | undefined;

// Browsers send a handful of distinct Accept-Encoding headers; each is parsed once.
const chosen = new Map<string, Encoding>();

/** Brotli, then gzip, by the client's Accept-Encoding and its q-values; undefined for identity. */
function chooseEncoding(header: string | undefined): Encoding {
  if (!header) return undefined;
  if (chosen.has(header)) return chosen.get(header);
  const encoding = parseEncoding(header);
  if (chosen.size >= 100) chosen.clear();
  chosen.set(header, encoding);
  return encoding;
}

function parseEncoding(header: string): Encoding {
  const accepts = parseAccept(header);
  const qualityOf = (name: string) => accepts.find((a) => a.type.toLowerCase() === name)?.q ?? accepts.find((a) => a.type === '*')?.q ?? 0;
  const br = qualityOf('br');
  const gzip = qualityOf('gzip');
  if (br > 0 && br >= gzip) return 'br';
  if (gzip > 0) return 'gzip';
  return undefined;
}
