import { describe, expect, it } from 'vitest';
import { isLoopbackHost } from '../../server/http/loopback-host.js';

describe('isLoopbackHost', () => {
  it.each(['localhost', 'localhost:3000', 'LOCALHOST.', 'demo.localhost:3000', '127.0.0.1', '127.0.0.1:3000', '127.8.9.10:80', '[::1]', '[::1]:3000', '[::ffff:127.0.0.1]:3000'])(
    'lets %s through',
    (host) => expect(isLoopbackHost(host)).toBe(true),
  );

  it.each([undefined, '', 'evil.example', 'evil.example:3000', 'localhost.evil.example', '10.0.0.1:3000', '0.0.0.0:3000', '[::]:3000', '[2001:db8::1]:3000', 'example.com#@localhost'])(
    'refuses %s',
    (host) => expect(isLoopbackHost(host)).toBe(false),
  );
});
