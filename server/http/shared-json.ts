import type { Context } from 'hono';
import { parseAccept } from 'hono/utils/accept';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { LruMap } from '../lru-map.js';
import { plainResponse } from './api-envelope.js';
import { requestHeader } from './node-headers.js';

/** One encoding of a body, with the headers that describe it, both made once. */
interface Encoded {
  body: Uint8Array<ArrayBuffer>;
  headers: Readonly<Record<string, string>>;
}

interface Encodings {
  identity: Encoded;
  br?: Encoded;
  gzip?: Encoded;
}

/** Below this size compression saves less than it costs (the compress middleware's threshold too). */
const MIN_COMPRESSED_BYTES = 1024;

function encoded(buffer: Buffer, contentEncoding?: 'br' | 'gzip'): Encoded {
  return {
    // Node's Buffers are Uint8Arrays over a plain ArrayBuffer (zlib and Buffer.from never hand out shared memory).
    body: buffer as Uint8Array<ArrayBuffer>,
    headers: Object.freeze({
      'Content-Type': 'application/json',
      ...(contentEncoding ? { 'Content-Encoding': contentEncoding } : {}),
      // With its length stated, the compress middleware leaves a small body alone, as this function does.
      'Content-Length': String(buffer.length),
      // The body depends on Accept-Encoding; the envelope adds Origin to this.
      Vary: 'Accept-Encoding',
    }),
  };
}

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
    encodings = { identity: encoded(Buffer.from(JSON.stringify(toBody(source)))) };
    cache.set(source, encodings);
  }
  const identity = encodings.identity.body;
  const encoding = identity.length < MIN_COMPRESSED_BYTES ? 'identity' : chooseEncoding(requestHeader(c, 'accept-encoding'));
  const chosen =
    encoding === 'br'
      ? (encodings.br ??= encoded(
          brotliCompressSync(identity, {
            // Quality 5 is most of quality 11's gain at a small fraction of its time.
            params: { [constants.BROTLI_PARAM_QUALITY]: 5, [constants.BROTLI_PARAM_SIZE_HINT]: identity.length },
          }),
          'br',
        ))
      : encoding === 'gzip'
        ? (encodings.gzip ??= encoded(gzipSync(identity), 'gzip'))
        : encodings.identity;
  return plainResponse(c, chosen.body, chosen.headers);
}

const cache = new WeakMap<object, Encodings>();

type Encoding = 'br' | 'gzip' | 'identity';

// Browsers send a handful of distinct Accept-Encoding headers; each is parsed once.
const choices = new LruMap<string, Encoding>(100);

/** Brotli, then gzip, by the client's Accept-Encoding and its q-values. */
function chooseEncoding(header: string | undefined): Encoding {
  if (!header) return 'identity';
  let encoding = choices.get(header);
  if (!encoding) {
    encoding = parseEncoding(header);
    choices.set(header, encoding);
  }
  return encoding;
}

function parseEncoding(header: string): Encoding {
  const accepts = parseAccept(header);
  const qualityOf = (name: string) => accepts.find((a) => a.type.toLowerCase() === name)?.q ?? accepts.find((a) => a.type === '*')?.q ?? 0;
  const br = qualityOf('br');
  const gzip = qualityOf('gzip');
  if (br > 0 && br >= gzip) return 'br';
  if (gzip > 0) return 'gzip';
  return 'identity';
}
