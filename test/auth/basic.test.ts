import { describe, expect, it } from 'vitest';
import { createBasicAuthCheck } from '../../src/auth/basic.js';
import { AuthConfigError } from '../../src/auth/index.js';

const basic = (userPass: string) => `Basic ${Buffer.from(userPass, 'utf8').toString('base64')}`;
const check = createBasicAuthCheck(['docv:s3crét', 'rotated:p:a:ss']);

describe('HTTP Basic', () => {
  it('accepts a configured user:pass, including UTF-8 (RFC 7617)', () => {
    // Independently encoded: base64 of the UTF-8 bytes of "docv:s3crét".
    expect(check({ authorization: 'Basic ZG9jdjpzM2Nyw6l0' })).toEqual({ ok: true });
  });

  it('accepts any configured entry (rotation), with colons allowed in the password', () => {
    expect(check({ authorization: basic('rotated:p:a:ss') }).ok).toBe(true);
  });

  it('treats the scheme name case-insensitively', () => {
    expect(check({ authorization: basic('docv:s3crét').replace('Basic', 'bAsIc') }).ok).toBe(true);
  });

  it.each([
    ['a wrong password', basic('docv:wrong')],
    ['a wrong user', basic('other:s3crét')],
    ['user and password of different entries', basic('docv:p:a:ss')],
    ['the user alone', basic('docv')],
    ['a Bearer token carrying the right base64', `Bearer ${basic('docv:s3crét').slice(6)}`],
    ['the base64 without a scheme', basic('docv:s3crét').slice(6)],
    ['unencoded credentials', 'Basic docv:s3crét'],
    ['extra words', `${basic('docv:s3crét')} extra`],
    ['an empty header', ''],
  ])('rejects %s', (_label, authorization) => {
    expect(check({ authorization }).ok).toBe(false);
  });

  it('explains a wrong scheme differently from wrong credentials (for the log)', () => {
    expect(check({ authorization: 'Bearer abc' })).toEqual({
      ok: false,
      reason: 'Authorization header does not use the Basic scheme',
    });
    expect(check({ authorization: basic('docv:wrong') })).toEqual({
      ok: false,
      reason: 'Basic credentials match no configured user:pass',
    });
    expect(check({})).toEqual({ ok: false, reason: 'no Authorization header' });
    expect(check({ authorization: [basic('docv:s3crét'), basic('docv:s3crét')] })).toEqual({
      ok: false,
      reason: 'more than one Authorization header',
    });
  });

  it.each([
    ['no colon', 'docvs3cret', /no colon/],
    ['an empty user', ':s3cret', /empty user/],
    ['an empty password', 'docv:', /empty password/],
    ['whitespace', 'docv:s3cret\n', /whitespace/],
    ['nothing at all', '', /empty/],
  ])('refuses an entry with %s', (_label, entry, message) => {
    expect(() => createBasicAuthCheck([entry])).toThrow(AuthConfigError);
    expect(() => createBasicAuthCheck([entry])).toThrow(message);
  });

  it('does not echo the password in configuration errors', () => {
    expect(() => createBasicAuthCheck(['docvTopSecretPassword'])).toThrow(/^basicAuth: entry 1 has no colon/);
    try {
      createBasicAuthCheck(['ok:fine', 'docvTopSecretPassword']);
    } catch (error) {
      expect((error as Error).message).toContain('entry 2');
      expect((error as Error).message).not.toContain('TopSecret');
    }
  });
});
