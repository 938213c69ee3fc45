import { describe, expect, it } from 'vitest';
import { repeatedCredentialHeader, SINGLE_CREDENTIAL_HEADERS } from '../../src/auth/index.js';

/**
 * The pure check behind "a credential header may be sent once" (issue 16, item 5). Over HTTP, in
 * every adapter: test/security/front-door.test.ts.
 */
describe('repeatedCredentialHeader', () => {
  it.each(SINGLE_CREDENTIAL_HEADERS)(
    'counts %s in the raw headers, whatever the letter case, and names it with the count',
    (name) => {
      const spelled = name === 'authorization' ? 'Authorization' : name;
      const raw = ['Host', '127.0.0.1', name.toUpperCase(), 'a', 'Content-Type', 'application/json', name, 'b'];
      expect(repeatedCredentialHeader({ [name]: 'a' }, raw)).toBe(`${spelled} sent 2 times`);
      expect(repeatedCredentialHeader({ [name]: 'a' }, [...raw, name, 'c'])).toBe(`${spelled} sent 3 times`);
    },
  );

  it('finds a repeat that the header map no longer shows (Node keeps only the first Authorization)', () => {
    const raw = ['authorization', 'Bearer s3cr3t', 'authorization', 'wrong'];
    expect(repeatedCredentialHeader({ authorization: 'Bearer s3cr3t' }, raw)).toBe('Authorization sent 2 times');
  });

  it('says nothing of a request with each credential header once, or of other repeated headers', () => {
    const raw = [
      'Authorization',
      'Bearer x',
      'webhook-id',
      'msg_1',
      'webhook-timestamp',
      '1700000000',
      'webhook-signature',
      'v1,abc v1,def',
      'Accept',
      '*/*',
      'accept',
      'text/plain',
      'X-Forwarded-For',
      '10.0.0.1',
      'x-forwarded-for',
      '10.0.0.2',
    ];
    const headers = {
      authorization: 'Bearer x',
      'webhook-id': 'msg_1',
      'webhook-timestamp': '1700000000',
      'webhook-signature': 'v1,abc v1,def',
      accept: '*/*, text/plain',
      'x-forwarded-for': '10.0.0.1, 10.0.0.2',
    };
    expect(repeatedCredentialHeader(headers, raw)).toBeUndefined();
    expect(repeatedCredentialHeader(headers)).toBeUndefined();
    expect(repeatedCredentialHeader({}, [])).toBeUndefined();
  });

  it('with raw headers the count decides: one header whose value has a comma is one header', () => {
    // Such a value fails the credential check on its own merits (the shared secret is compared with the last token).
    expect(
      repeatedCredentialHeader({ authorization: 'Bearer a, b' }, ['Authorization', 'Bearer a, b']),
    ).toBeUndefined();
  });

  it('the webhook- and svix- spellings are different headers: one of each is not a repeat', () => {
    expect(repeatedCredentialHeader({}, ['webhook-id', 'a', 'svix-id', 'a'])).toBeUndefined();
  });

  describe('without raw headers (a Web Request: the copies were joined with ", ")', () => {
    it.each([
      ['authorization', 's3cr3t, wrong', 'Authorization'],
      ['authorization', 'Bearer wrong, Bearer s3cr3t', 'Authorization'],
      ['Authorization', 'wrong,\ts3cr3t', 'Authorization'],
      ['webhook-signature', 'v1,AAAA, v1,BBBB', 'webhook-signature'],
      ['svix-signature', 'v1,AAAA, v1,BBBB', 'svix-signature'],
      ['webhook-timestamp', '1700000000, 1700000001', 'webhook-timestamp'],
      ['svix-timestamp', '1700000000, 1700000001', 'svix-timestamp'],
    ])('%s: %j is two values joined into one', (name, value, spelled) => {
      expect(repeatedCredentialHeader({ [name]: value })).toBe(
        `${spelled} holds a comma and a space, as two headers joined into one do; it may be sent once`,
      );
    });

    it.each([
      ['authorization', 'Bearer s3cr3t'],
      ['authorization', 'Basic dXNlcjpwYXNz'],
      // A comma with no space is not a join (Node and Headers always add the space); as a token it matches no secret anyway.
      ['authorization', 'Bearer abc,def'],
      ['webhook-signature', 'v1,AAAA v1,BBBB v1a,CCCC'],
      ['webhook-timestamp', '1700000000'],
      // Any text may be an id; a joined one fails the signature the sender computed over its own id.
      ['webhook-id', 'msg_1, msg_2'],
      ['svix-id', 'msg_1, msg_2'],
    ])('%s: %j passes', (name, value) => {
      expect(repeatedCredentialHeader({ [name]: value })).toBeUndefined();
    });

    it('an array value with two entries is a repeat; with one it is not', () => {
      expect(repeatedCredentialHeader({ 'webhook-id': ['a', 'b'] })).toBe('webhook-id sent 2 times');
      expect(repeatedCredentialHeader({ 'webhook-id': ['a'] })).toBeUndefined();
    });
  });

  it('never puts a header value in its reason', () => {
    const secret = 'do-not-log-me';
    const reasons = [
      repeatedCredentialHeader({ authorization: `Bearer ${secret}` }, [
        'authorization',
        `Bearer ${secret}`,
        'authorization',
        secret,
      ]),
      repeatedCredentialHeader({ authorization: `${secret}, ${secret}` }),
    ];
    for (const reason of reasons) {
      expect(reason).toBeDefined();
      expect(reason).not.toContain(secret);
    }
  });
});
