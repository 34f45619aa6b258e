import { request, type IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { SITE_MAX_BODY_BYTES } from '../../server/http/site-body-limit.js';
import { useSqliteTestServer } from './helpers/server.js';

const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'";

// Every POST of the site app, and a path it does not know: the limit is on the whole site.
const SITE_POSTS = [
  '/webhooks/zoom',
  '/sign-in',
  '/auth/link',
  '/sign-out',
  '/sign-out/everywhere',
  '/settings/profile',
  '/settings/services',
  '/settings/services/some-service',
  '/settings/services/some-service/hide',
  '/settings/services/some-service/show',
  '/settings/availability',
  '/settings/origins',
  '/settings/booking-rules',
  '/dashboard/bookings/some-booking/cancel',
  '/dashboard/bookings/some-booking/offer-reschedule',
  '/bookings/some-booking/manage/cancel',
  '/bookings/some-booking/manage/reschedule',
  '/settings/zoom/connect',
  '/settings/zoom/disconnect',
  '/no-such-page',
];

interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  contentType: string | undefined;
  connection: string | undefined;
  body: string;
  /** Bytes of the body the client had written when the answer came. */
  bytesSent: number;
}

/**
 * Starts a POST that would send `totalBytes` (with a Content-Length, or
 * chunked) but writes only what `sendFirst` says and then waits: the answer
 * must come without the rest of the body.
 */
function postWithoutFinishing(url: string, options: { chunked: boolean; sendFirst: number; declaredBytes?: number }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (!options.chunked) headers['content-length'] = String(options.declaredBytes);
    const req = request(url, { method: 'POST', headers });
    let bytesSent = 0;
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no answer from ${url} while the body was unfinished (${bytesSent} bytes sent)`));
    }, 5000);
    req.on('response', (res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode!, headers: res.headers, contentType: res.headers['content-type'], connection: res.headers.connection, body, bytesSent });
        req.destroy();
      });
    });
    req.on('error', (error) => {
      // The server closing the connection after its answer is expected; anything before it is not.
      if (!req.destroyed) reject(error);
    });
    const chunk = Buffer.alloc(4096, 'a');
    while (bytesSent < options.sendFirst) {
      req.write(chunk);
      bytesSent += chunk.length;
    }
  });
}

describe('body size limit on every site route', () => {
  const server = useSqliteTestServer();

  for (const path of SITE_POSTS) {
    it(`POST ${path}: 413 for a declared 80 MB body, before it is sent`, async () => {
      const answer = await postWithoutFinishing(`${server().url}${path}`, { chunked: false, declaredBytes: 80 * 1024 * 1024, sendFirst: 4096 });
      expectTooLarge(path, answer);
      expect(answer.bytesSent).toBe(4096);
    });

    it(`POST ${path}: 413 for a chunked body as soon as it passes the limit`, async () => {
      const answer = await postWithoutFinishing(`${server().url}${path}`, { chunked: true, sendFirst: SITE_MAX_BODY_BYTES + 4096 });
      expectTooLarge(path, answer);
    });
  }

  it('the cross-site 403 page carries the page headers too', async () => {
    const res = await fetch(`${server().url}/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
      body: 'email=anna%40example.test',
    });
    expect(res.status).toBe(403);
    expect([res.headers.get('content-security-policy'), res.headers.get('cache-control'), res.headers.get('x-content-type-options')]).toEqual([CSP, 'no-store', 'nosniff']);
  });

  it('takes a body at the limit', async () => {
    const res = await fetch(`${server().url}/webhooks/zoom`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(SITE_MAX_BODY_BYTES) });
    // Past the limit check: the webhook's own signature check answers.
    expect(res.status).not.toBe(413);
  });
});

function expectTooLarge(path: string, answer: Answer): void {
  expect(answer.status).toBe(413);
  expect(answer.connection).toBe('close');
  if (path.startsWith('/webhooks/')) {
    expect(answer.contentType).toMatch(/^application\/json/);
    expect(JSON.parse(answer.body)).toEqual({ success: false, code: 'payload_too_large', message: 'The request body is larger than 64 KB.' });
  } else {
    expect(answer.contentType).toMatch(/^text\/html/);
    expect(answer.body).toContain('The request body is larger than 64 KB.');
    // A page like any other: the same headers.
    expect(answer.headers['content-security-policy']).toBe(CSP);
    expect(answer.headers['cache-control']).toBe('no-store');
    expect(answer.headers['x-content-type-options']).toBe('nosniff');
  }
}
