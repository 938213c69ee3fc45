import { describe, expect, it } from 'vitest';
import { createSharedSecretCheck } from '../../src/auth/shared-secret.js';
import { AuthConfigError } from '../../src/auth/index.js';

const SECRET = 'docv-shared-secret-2026';
const NEXT_SECRET = 'docv-shared-secret-2027';
const check = createSharedSecretCheck([SECRET]);

describe('shared secret in Authorization', () => {
  it.each([
    ['the bare secret', SECRET],
    ['Bearer <secret>', `Bearer ${SECRET}`],
    ['any scheme word', `Token ${SECRET}`],
    ['lower-case scheme', `bearer ${SECRET}`],
    ['several spaces and a tab', `Bearer \t  ${SECRET}`],
    ['surrounding whitespace', `  Bearer ${SECRET}  `],
  ])('accepts %s', (_label, authorization) => {
    expect(check({ authorization })).toEqual({ ok: true });
  });

  it('reads the header whatever its letter case', () => {
    expect(check({ Authorization: `Bearer ${SECRET}` })).toEqual({ ok: true });
  });

  it('accepts a single-element header array', () => {
    expect(check({ authorization: [SECRET] })).toEqual({ ok: true });
  });

  it('accepts every configured secret during a rotation', () => {
    const rotating = createSharedSecretCheck([SECRET, NEXT_SECRET]);
    expect(rotating({ authorization: SECRET }).ok).toBe(true);
    expect(rotating({ authorization: `Bearer ${NEXT_SECRET}` }).ok).toBe(true);
    expect(rotating({ authorization: 'Bearer docv-shared-secret-2028' }).ok).toBe(false);
  });

  it.each([
    ['a wrong secret', 'Bearer nope'],
    ['a prefix of the secret', SECRET.slice(0, -1)],
    ['the secret with an extra character', `${SECRET}x`],
    ['the secret in the wrong letter case', SECRET.toUpperCase()],
    ['the secret followed by another word', `${SECRET} trailing`],
    ['an empty header', ''],
    ['a header of spaces', '   '],
  ])('rejects %s', (_label, authorization) => {
    const result = check({ authorization });
    expect(result.ok).toBe(false);
  });

  it('rejects a missing header and says so', () => {
    expect(check({})).toEqual({ ok: false, reason: 'no Authorization header' });
  });

  it('rejects a repeated header even when one copy is right', () => {
    expect(check({ authorization: ['Bearer nope', SECRET] })).toEqual({
      ok: false,
      reason: 'more than one Authorization header',
    });
  });

  it('never puts the secret or the sent token in the reason', () => {
    const result = check({ authorization: 'Bearer sent-token-value' });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.reason).not.toContain(SECRET);
      expect(result.reason).not.toContain('sent-token-value');
    }
  });

  it.each([
    ['an empty secret', ['']],
    ['a trailing newline', [`${SECRET}\n`]],
    ['an inner space', ['two words']],
    ['a control character', ['abc\u0001def']],
    ['a non-string', [42 as unknown as string]],
  ])('refuses a configuration with %s, naming the option but not the secret', (_label, secrets) => {
    let error: unknown;
    try {
      createSharedSecretCheck(secrets);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AuthConfigError);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as AuthConfigError).option).toBe('webhookSecrets');
    expect((error as Error).message).toMatch(/^webhookSecrets: entry 1/);
    if (typeof secrets[0] === 'string' && secrets[0].length > 3)
      expect((error as Error).message).not.toContain(secrets[0].trim());
  });
});
