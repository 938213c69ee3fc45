import { describe, expect, it } from 'vitest';
import { headersWithoutCredentials, isCredentialHeader } from '../../src/auth/redact.js';

describe('headersWithoutCredentials', () => {
  it('drops every header whose name says it carries a credential, whatever its case', () => {
    const dropped = [
      'Authorization',
      'Proxy-Authorization',
      'Cookie',
      'Set-Cookie',
      'X-Auth-Token',
      'Api-Key',
      'X-API-Key',
      'X-Session-Id',
      'X-Webhook-Secret',
      'X-Client-Secret',
      'X-CSRF-Token',
      'X-Amz-Security-Token',
      'webhook-signature',
      'svix-signature',
      'X-Hub-Signature-256',
      'X-Shopify-Hmac-Sha256',
      'X-User-Password',
      'X-Credentials',
      'X-Goog-IAP-JWT-Assertion',
      'DPoP',
    ];
    const kept = [
      'content-type',
      'content-length',
      'content-encoding',
      'user-agent',
      'webhook-id',
      'webhook-timestamp',
      'svix-id',
      'svix-timestamp',
      'x-forwarded-for',
      'x-request-id',
      'traceparent',
      'x-amzn-trace-id',
      'accept',
    ];
    const headers = Object.fromEntries([...dropped, ...kept].map((name) => [name, `value-of-${name}`]));
    expect(Object.keys(headersWithoutCredentials(headers)).sort()).toEqual([...kept].sort());
  });

  it('drops a header whose value reads as a credential, whatever it is called', () => {
    const stored = headersWithoutCredentials({
      'x-forwarded-client': 'Bearer VALUE-SECRET-1',
      'x-custom': 'SocureApiKey VALUE-SECRET-2',
      'x-other': ['fine', 'Basic dXNlcjpWQUxVRS1TRUNSRVQtMw=='],
      'x-setup': 'whsec_VALUESECRET4',
      'x-id-claims': 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln',
      'x-trace': 'Bearer-ish but harmless',
    });
    expect(stored).toEqual({ 'x-trace': 'Bearer-ish but harmless' });
  });

  it('lower-cases the names it keeps and joins repeated values', () => {
    expect(
      headersWithoutCredentials({ 'X-Request-Id': 'r1', 'x-forwarded-for': ['10.0.0.1', '10.0.0.2'], gone: undefined }),
    ).toEqual({
      'x-request-id': 'r1',
      'x-forwarded-for': '10.0.0.1, 10.0.0.2',
    });
  });

  it('isCredentialHeader without a value judges the name alone', () => {
    expect(isCredentialHeader('X-Auth-Token')).toBe(true);
    expect(isCredentialHeader('x-request-id')).toBe(false);
    expect(isCredentialHeader('x-request-id', 'Bearer abc')).toBe(true);
  });
});
