import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
    expect(
      readSecretList({ DOCV_WEBHOOK_SECRETS: '', DOCV_WEBHOOK_SECRETS_FILE: '' }, 'DOCV_WEBHOOK_SECRETS'),
    ).toBeUndefined();
  });

  it('reads a single value from NAME as is', () => {
    expect(readSecretList({ DOCV_ADMIN_TOKEN: 'tok-123' }, 'DOCV_ADMIN_TOKEN')).toEqual(['tok-123']);
  });

  it('splits NAME on the separator, trimming entries and dropping empty ones', () => {
    expect(readSecretList({ DOCV_WEBHOOK_SECRETS: 'a, b,,c ,' }, 'DOCV_WEBHOOK_SECRETS', { separator: ',' })).toEqual([
      'a',
      'b',
      'c',
    ]);
    expect(
      readSecretList({ DOCV_WEBHOOK_SIGNING_SECRETS: 'whsec_a whsec_b,whsec_c' }, 'DOCV_WEBHOOK_SIGNING_SECRETS', LIST),
    ).toEqual(['whsec_a', 'whsec_b', 'whsec_c']);
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
    expect(readSecretList({ DOCV_WEBHOOK_SIGNING_SECRETS_FILE: path }, 'DOCV_WEBHOOK_SIGNING_SECRETS', LIST)).toEqual([
      'whsec_one',
      'whsec_two',
      'whsec_three',
    ]);
  });

  it('refuses both NAME and NAME_FILE at once', () => {
    const path = secretFile('both', 'x');
    expect(() => readSecretList({ DOCV_ADMIN_TOKEN: 'a', DOCV_ADMIN_TOKEN_FILE: path }, 'DOCV_ADMIN_TOKEN')).toThrow(
      /DOCV_ADMIN_TOKEN and DOCV_ADMIN_TOKEN_FILE are both set/,
    );
  });

  it('refuses an empty secret file rather than silently disabling authentication', () => {
    const path = secretFile('empty', '\n');
    expect(() => readSecretList({ DOCV_WEBHOOK_SECRETS_FILE: path }, 'DOCV_WEBHOOK_SECRETS', LIST)).toThrow(
      /DOCV_WEBHOOK_SECRETS_FILE: .* is empty/,
    );
  });

  it('names the variable and file, not the content, when the file cannot be read', () => {
    const missing = join(dir, 'does-not-exist');
    expect(() => readSecretList({ DOCV_WEBHOOK_SECRETS_FILE: missing }, 'DOCV_WEBHOOK_SECRETS')).toThrow(
      `DOCV_WEBHOOK_SECRETS_FILE: cannot read ${missing} (ENOENT)`,
    );
    expect(() => readSecretList({ DOCV_WEBHOOK_SECRETS_FILE: dir }, 'DOCV_WEBHOOK_SECRETS')).toThrow(/EISDIR/);
  });
});

describe('readSecretList: set but holding nothing usable is refused, never "not configured" (issue 16, item 4)', () => {
  const COMMAS = { separator: ',' };

  it.each<[string, Record<string, string>, string, { separator?: string | RegExp }, RegExp]>([
    [
      'a list of only separators',
      { DOCV_WEBHOOK_SECRETS: ' , ' },
      'DOCV_WEBHOOK_SECRETS',
      COMMAS,
      /^DOCV_WEBHOOK_SECRETS holds no entries/,
    ],
    [
      'a list of only commas',
      { DOCV_WEBHOOK_BASIC_AUTH: ',,' },
      'DOCV_WEBHOOK_BASIC_AUTH',
      COMMAS,
      /^DOCV_WEBHOOK_BASIC_AUTH holds no entries/,
    ],
    [
      'a list of only whitespace',
      { DOCV_WEBHOOK_SIGNING_SECRETS: ' ' },
      'DOCV_WEBHOOK_SIGNING_SECRETS',
      LIST,
      /^DOCV_WEBHOOK_SIGNING_SECRETS is set but holds only whitespace/,
    ],
    [
      'an allow-list of only separators',
      { DOCV_ALLOWED_IPS: ', ,\t' },
      'DOCV_ALLOWED_IPS',
      LIST,
      /^DOCV_ALLOWED_IPS holds no entries/,
    ],
    [
      'a token of only whitespace',
      { DOCV_ADMIN_TOKEN: '  ' },
      'DOCV_ADMIN_TOKEN',
      {},
      /^DOCV_ADMIN_TOKEN is set but holds only whitespace/,
    ],
    [
      'a token of a newline',
      { DOCV_ADMIN_TOKEN: '\n' },
      'DOCV_ADMIN_TOKEN',
      {},
      /^DOCV_ADMIN_TOKEN is set but holds only whitespace/,
    ],
  ])('%s', (_name, env, name, options, message) => {
    expect(() => readSecretList(env, name, options)).toThrow(message);
  });

  it.each<[string, string, string, { separator?: string | RegExp }]>([
    ['DOCV_WEBHOOK_SECRETS', ',\n', 'holds no entries', COMMAS],
    ['DOCV_WEBHOOK_BASIC_AUTH', ' , , ', 'holds no entries', COMMAS],
    ['DOCV_WEBHOOK_SIGNING_SECRETS', ' \n', 'is empty', LIST],
    ['DOCV_ALLOWED_IPS', ',', 'holds no entries', LIST],
    ['DOCV_ADMIN_TOKEN', ' \t\n', 'is empty', {}],
  ])('%s_FILE holding %j', (name, content, says, options) => {
    const path = secretFile(`blank-${name}`, content);
    expect(() => readSecretList({ [`${name}_FILE`]: path }, name, options)).toThrow(`${name}_FILE: ${path} ${says}`);
  });

  it('an empty NAME still means "not configured" (what NAME= in a compose file gives)', () => {
    expect(readSecretList({ DOCV_ALLOWED_IPS: '' }, 'DOCV_ALLOWED_IPS', LIST)).toBeUndefined();
  });
});

describe('readSecretList: a secret file others can read is worth a warning (issue 16, item 9)', () => {
  function readWithWarnings(mode: number): string[] {
    const path = secretFile(`mode-${mode.toString(8)}`, 'file-secret-value\n');
    // chmod after writing: the mode writeFileSync asks for is cut by the umask.
    chmodSync(path, mode);
    const warnings: string[] = [];
    expect(
      readSecretList({ DOCV_WEBHOOK_SECRETS_FILE: path }, 'DOCV_WEBHOOK_SECRETS', {
        separator: ',',
        warn: (m) => warnings.push(m),
      }),
    ).toEqual(['file-secret-value']);
    return warnings;
  }

  it.runIf(process.platform !== 'win32').each([0o644, 0o640, 0o604, 0o660])(
    'mode %o: one warning naming the variable and the file, never the content',
    (mode) => {
      const warnings = readWithWarnings(mode);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(
        new RegExp(
          `^DOCV_WEBHOOK_SECRETS_FILE: .*mode-${mode.toString(8)} is open to other users than its owner \\(mode 0${mode.toString(8)}\\); make it private: chmod 600 `,
        ),
      );
      expect(warnings[0]).not.toContain('file-secret-value');
    },
  );

  it.each([0o600, 0o400])('mode %o: no warning', (mode) => {
    expect(readWithWarnings(mode)).toEqual([]);
  });
});
