import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSecretList } from '../../src/auth/index.js';

const dir = mkdtempSync(join(tmpdir(), 'docv-secret-sources-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function secretFile(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
}

const LIST = { separator: /[\s,]+/ };

describe('readSecretList', () => {
  it('returns undefined when neither NAME nor NAME_FILE is set, or NAME is empty', () => {
    expect(readSecretList({}, 'DOCV_WEBHOOK_SECRETS')).toBeUndefined();
    expect(readSecretList({ DOCV_WEBHOOK_SECRETS: '' }, 'DOCV_WEBHOOK_SECRETS')).toBeUndefined();
    expect(readSecretList({ DOCV_WEBHOOK_SECRETS: '', DOCV_WEBHOOK_SECRETS_FILE: '' }, 'DOCV_WEBHOOK_SECRETS')).toBeUndefined();
  });

  it('reads a single value from NAME as is', () => {
    expect(readSecretList({ DOCV_ADMIN_TOKEN: 'tok-123' }, 'DOCV_ADMIN_TOKEN')).toEqual(['tok-123']);
  });

  it('splits NAME on the separator, trimming entries and dropping empty ones', () => {
    expect(readSecretList({ DOCV_WEBHOOK_SECRETS: 'a, b,,c ,' }, 'DOCV_WEBHOOK_SECRETS', { separator: ',' })).toEqual(['a', 'b', 'c']);
    expect(readSecretList({ DOCV_WEBHOOK_SIGNING_SECRETS: 'whsec_a whsec_b,whsec_c' }, 'DOCV_WEBHOOK_SIGNING_SECRETS', LIST)).toEqual(['whsec_a', 'whsec_b', 'whsec_c']);
  });

  it('reads NAME_FILE, removing exactly one trailing newline', () => {
    const path = secretFile('admin-token', 'file-token\n');
    expect(readSecretList({ DOCV_ADMIN_TOKEN_FILE: path }, 'DOCV_ADMIN_TOKEN')).toEqual(['file-token']);
    const crlf = secretFile('admin-token-crlf', 'file-token\r\n');
    expect(readSecretList({ DOCV_ADMIN_TOKEN_FILE: crlf }, 'DOCV_ADMIN_TOKEN')).toEqual(['file-token']);
    // Anything beyond one newline is left for the configuration check to report.
    const two = secretFile('admin-token-two', 'file-token\n\n');
    expect(readSecretList({ DOCV_ADMIN_TOKEN_FILE: two }, 'DOCV_ADMIN_TOKEN')).toEqual(['file-token\n']);
    const spaced = secretFile('admin-token-spaced', ' file-token');
    expect(readSecretList({ DOCV_ADMIN_TOKEN_FILE: spaced }, 'DOCV_ADMIN_TOKEN')).toEqual([' file-token']);
  });

  it('removes one trailing newline from NAME too', () => {
    expect(readSecretList({ DOCV_ADMIN_TOKEN: 'tok\n' }, 'DOCV_ADMIN_TOKEN')).toEqual(['tok']);
  });

  it('splits a list file, one entry per line or separated by commas', () => {
    const path = secretFile('signing-secrets', 'whsec_one\nwhsec_two, whsec_three\n');
    expect(readSecretList({ DOCV_WEBHOOK_SIGNING_SECRETS_FILE: path }, 'DOCV_WEBHOOK_SIGNING_SECRETS', LIST)).toEqual(['whsec_one', 'whsec_two', 'whsec_three']);
  });

  it('refuses both NAME and NAME_FILE at once', () => {
    const path = secretFile('both', 'x');
    expect(() => readSecretList({ DOCV_ADMIN_TOKEN: 'a', DOCV_ADMIN_TOKEN_FILE: path }, 'DOCV_ADMIN_TOKEN')).toThrow(/DOCV_ADMIN_TOKEN and DOCV_ADMIN_TOKEN_FILE are both set/);
  });

  it('refuses an empty secret file rather than silently disabling authentication', () => {
    const path = secretFile('empty', '\n');
    expect(() => readSecretList({ DOCV_WEBHOOK_SECRETS_FILE: path }, 'DOCV_WEBHOOK_SECRETS', LIST)).toThrow(/DOCV_WEBHOOK_SECRETS_FILE: .* is empty/);
  });

  it('names the variable and file, not the content, when the file cannot be read', () => {
    const missing = join(dir, 'does-not-exist');
    expect(() => readSecretList({ DOCV_WEBHOOK_SECRETS_FILE: missing }, 'DOCV_WEBHOOK_SECRETS')).toThrow(`DOCV_WEBHOOK_SECRETS_FILE: cannot read ${missing} (ENOENT)`);
    expect(() => readSecretList({ DOCV_WEBHOOK_SECRETS_FILE: dir }, 'DOCV_WEBHOOK_SECRETS')).toThrow(/EISDIR/);
  });
});
