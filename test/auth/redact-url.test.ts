import { describe, expect, it } from 'vitest';
import { isSecretParameter, redactUrl } from '../../src/auth/redact-url.js';

describe('redactUrl', () => {
  it.each([
    ['user:password', 'postgres://docv:PW-SECRET@db.internal:5432/docv', 'postgres://***@db.internal:5432/docv'],
    [
      'a token alone as userinfo',
      'https://TOKEN-SECRET@github.com/org/repo.git',
      'https://***@github.com/org/repo.git',
    ],
    ['the token in the user half', 'https://TOKEN-SECRET:x-oauth-basic@github.com/x', 'https://***@github.com/x'],
    ['an unencoded @ in the password', 'ftp://user:PW@SECRET@files.example/x', 'ftp://***@files.example/x'],
    ['an empty password', 'http://user:@host.example/', 'http://***@host.example/'],
    ['a / inside an unencoded password', 'postgres://u:PW/SECRET@db.example/docv', 'postgres://***@db.example/docv'],
    ['a ? inside an unencoded password', 'postgres://u:PW?SECRET@db.example/docv', 'postgres://***@db.example/docv'],
    ['a # inside an unencoded password', 'postgres://u:PW#SECRET@db.example/docv', 'postgres://***@db.example/docv'],
    ['a URL that does not parse', 'http://user:PW-SECRET@exa%mple.com/x', 'http://***@exa%mple.com/x'],
  ])('hides the userinfo: %s', (_name, url, shown) => {
    expect(redactUrl(url)).toBe(shown);
  });

  it.each([
    [
      '?password=',
      'postgres://db.example/docv?password=PW-SECRET&schema=docv',
      'postgres://db.example/docv?password=***&schema=docv',
    ],
    [
      'sslpassword, any case',
      'postgres://db.example/docv?sslmode=require&SSLPassword=PW-SECRET',
      'postgres://db.example/docv?sslmode=require&SSLPassword=***',
    ],
    [
      'token and access_token',
      'https://hooks.example/in?token=T-SECRET&access_token=A-SECRET&team=7',
      'https://hooks.example/in?token=***&access_token=***&team=7',
    ],
    [
      'api_key, apikey, key',
      'https://api.example/x?api_key=K1-SECRET&apikey=K2-SECRET&key=K3-SECRET',
      'https://api.example/x?api_key=***&apikey=***&key=***',
    ],
    [
      'sig and signature of a pre-signed URL',
      'https://blob.example/c?sv=2024&sig=S1-SECRET&X-Amz-Signature=S2-SECRET',
      'https://blob.example/c?sv=2024&sig=***&X-Amz-Signature=***',
    ],
    [
      'secret, passwd, pwd',
      'https://x.example/?client_secret=C-SECRET&passwd=P1-SECRET&pwd=P2-SECRET',
      'https://x.example/?client_secret=***&passwd=***&pwd=***',
    ],
    ['a percent-encoded name', 'https://x.example/?pass%77ord=P-SECRET', 'https://x.example/?pass%77ord=***'],
    [
      'the fragment',
      'https://app.example/cb#access_token=A-SECRET&state=s1',
      'https://app.example/cb#access_token=***&state=s1',
    ],
    [
      'a matrix parameter in the path',
      'https://app.example/login;jsessionid=J-SECRET?next=/',
      'https://app.example/login;jsessionid=***?next=/',
    ],
  ])('hides secret parameter values: %s', (_name, url, shown) => {
    expect(redactUrl(url)).toBe(shown);
  });

  it('leaves URLs without credentials as they are', () => {
    for (const url of [
      'http://127.0.0.1:3000/socure/docv/webhook',
      'postgres://db.example:5432/docv?schema=docv&pool_size=4',
      'http://[::1]:8080/x?a=1',
      'https://host.example/users/@me',
      'sqlite:./data/docv.db',
    ]) {
      expect(redactUrl(url)).toBe(url);
    }
  });

  it('finds every URL inside a message and keeps the rest of it', () => {
    const message =
      'forward URL "ftp://u:PW1-SECRET@a.example/x" clashes with https://b.example/y?token=T-SECRET (twice), see http://c.example/';
    expect(redactUrl(message)).toBe(
      'forward URL "ftp://***@a.example/x" clashes with https://b.example/y?token=*** (twice), see http://c.example/',
    );
  });

  it("a URL in single quotes (commander's errors) loses its credentials too", () => {
    const shown = redactUrl("error: option '--x <url>' argument 'ftp://u:it's-SECRET@host.example/x' is invalid.");
    expect(shown).not.toContain('SECRET');
    expect(shown).toContain('host.example/x');
  });

  it('a value is hidden up to white space, so a secret never shows even when punctuation follows it', () => {
    expect(redactUrl('cannot reach postgres://db.example/d?password=PW-SECRET: refused')).toBe(
      'cannot reach postgres://db.example/d?password=*** refused',
    );
  });

  it('names parameters by pattern, case-insensitively', () => {
    for (const name of [
      'password',
      'PASSWORD',
      'sslpassword',
      'passwd',
      'pwd',
      'secret',
      'token',
      'key',
      'api_key',
      'apikey',
      'access_token',
      'sig',
      'signature',
      'Auth',
      'session_id',
    ]) {
      expect(isSecretParameter(name), name).toBe(true);
    }
    for (const name of [
      'schema',
      'pool_size',
      'sslmode',
      'connect_timeout',
      'application_name',
      'team',
      'state',
      'next',
    ]) {
      expect(isSecretParameter(name), name).toBe(false);
    }
  });
});
