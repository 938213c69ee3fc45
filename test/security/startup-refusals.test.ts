import { chmodSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CliError } from '../../src/cli/errors.js';
import { receiverOptionsFromFlags, type ReceiverFlags } from '../../src/cli/receiver-options.js';
import { ConfigError, startReceiver, startWorker, type StartReceiverOptions } from '../../src/server/index.js';
import { skipUnavailable, testBackends, type TestDatabase } from '../helpers/backends.js';
import { killLiveCliProcesses, runCli, spawnCli, type CliResult } from '../helpers/cli.js';
import { tempDir } from '../helpers/receiver.js';
import {
  count,
  eventJson,
  get,
  JSON_CT,
  newSharedSecret,
  post,
  envWithoutCredentials,
  CREDENTIAL_VARIABLES,
} from './helpers.js';

/**
 * The safe defaults: a receiver that would be open to the network refuses to start, with an
 * error that names what to set. Refusals happen before anything is bound or opened, so the
 * non-loopback hosts below are never actually listened on, except in the one test that
 * explicitly opts out with insecureNoAuth.
 *
 * Refusals come before any store is opened, whatever the backend, so they are checked on SQLite
 * only (no file is created). The receivers that do start and store deliveries run on each backend.
 */

const backends = await testBackends();

const dirs: string[] = [];
function newDir(): string {
  const dir = tempDir('docv-security-');
  dirs.push(dir);
  return dir;
}

const databases: TestDatabase[] = [];

afterAll(async () => {
  killLiveCliProcesses();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  await Promise.all(databases.map((database) => database.drop()));
});

/** Credentials in the environment of whoever runs the tests must not change what the CLI sees. */
const NO_CREDENTIALS_ENV = envWithoutCredentials(CREDENTIAL_VARIABLES);

async function refusal(options: StartReceiverOptions): Promise<ConfigError> {
  const dir = newDir();
  const dbPath = join(dir, 'receiver.db');
  const error = await startReceiver({ port: 0, db: `sqlite:${dbPath}`, logLevel: 'silent', ...options }).then(
    async (r) => {
      await r.close();
      throw new Error(
        `startReceiver(${JSON.stringify({ ...options, webhookSecrets: undefined })}) started; it should have refused`,
      );
    },
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(ConfigError);
  // Refused before the store was opened: no database file, nothing listening.
  expect(existsSync(dbPath)).toBe(false);
  return error as ConfigError;
}

describe('startReceiver refuses to expose an open endpoint (SQLite only: refused before any store is opened)', () => {
  it.each(['0.0.0.0', '::', '192.0.2.10'])(
    'no webhook credential on %s → ConfigError naming every option',
    async (host) => {
      const error = await refusal({ host });
      expect(error.message).toContain(host);
      for (const option of [
        '--webhook-secret',
        '--basic-auth',
        '--signing-secret',
        '--insecure-no-auth',
        'DOCV_WEBHOOK_SECRETS',
        'DOCV_WEBHOOK_BASIC_AUTH',
        'DOCV_WEBHOOK_SIGNING_SECRETS',
      ]) {
        expect(error.message).toContain(option);
      }
    },
  );

  it('an allow-list alone is not a credential', async () => {
    const error = await refusal({ host: '0.0.0.0', auth: { allowIps: ['10.0.0.0/8'] } });
    expect(error.message).toContain('--webhook-secret');
  });

  it.each<[string, StartReceiverOptions]>([
    ['a shared secret', { webhookSecrets: ['s3cret-value'] }],
    ['Basic credentials', { basicAuth: ['user:s3cret-value'] }],
    ['a signing secret', { signingSecrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'] }],
  ])('with %s but no admin token → ConfigError naming --admin-token and DOCV_ADMIN_TOKEN', async (_name, options) => {
    const error = await refusal({ host: '0.0.0.0', ...options });
    expect(error.message).toContain('--admin-token');
    expect(error.message).toContain('DOCV_ADMIN_TOKEN');
    expect(error.message).not.toContain('s3cret-value');
    expect(error.message).not.toContain('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
  });

  it.each<[string, StartReceiverOptions, string]>([
    ['an empty secret', { webhookSecrets: [''] }, 'webhookSecrets'],
    ['a secret with a trailing newline', { webhookSecrets: ['s3cret-value\n'] }, 'webhookSecrets'],
    ['a whsec_ secret that is not base64', { signingSecrets: ['whsec_s3cret-value!'] }, 'signingSecrets'],
    ['an invalid CIDR', { webhookSecrets: ['s3cret-value'], auth: { allowIps: ['10.0.0.0/33'] } }, 'allowIps'],
    ['Basic without a colon', { basicAuth: ['s3cret-value'] }, 'basicAuth'],
    [
      'Basic together with a shared secret',
      { basicAuth: ['u:s3cret-value'], webhookSecrets: ['s3cret-value'] },
      'basicAuth',
    ],
  ])(
    'bad credential configuration (%s) stops the start-up, even on loopback, without echoing the value',
    async (_name, options, option) => {
      const error = await refusal({ host: '127.0.0.1', ...options });
      expect(error.message).toContain(option);
      expect(error.message).not.toContain('s3cret-value');
    },
  );
});

describe.each(backends)('startReceiver with insecureNoAuth ($name)', (backend) => {
  if (skipUnavailable(backend)) return;

  it('starts on 0.0.0.0 without credentials and stores deliveries; the admin API stays closed without a token', async () => {
    const database = await backend.create();
    databases.push(database);
    const r = await startReceiver({
      host: '0.0.0.0',
      port: 0,
      db: database.url,
      logLevel: 'silent',
      insecureNoAuth: true,
    });
    try {
      const port = r.config.port;
      expect(port).toBeGreaterThan(0);
      expect(r.auth.configured).toBe(false);
      // Talk to it over loopback only.
      const res = await post(`http://127.0.0.1:${port}${r.config.webhookPath}`, eventJson(), JSON_CT);
      expect(res.status).toBe(200);
      const admin = await get(`http://127.0.0.1:${port}/v1/transactions`);
      expect(admin.status).toBe(403);
      expect(admin.json.type).toBe('urn:docv-webhooks:problem:admin-disabled');
    } finally {
      await r.close();
    }
    expect(await count(database, 'events')).toBe(1);
  });
});

function oneLineFailure(result: CliResult, ...mentions: string[]): void {
  expect(result.code, `stdout: ${result.stdout}\nstderr: ${result.stderr}`).toBe(1);
  const lines = result.stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^docv-webhooks: /);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.stdout).not.toContain('listening');
  for (const m of mentions) expect(result.stderr).toContain(m);
}

describe('docv-webhooks serve refuses to start (the CLI, as a child process; SQLite only: nothing is opened)', () => {
  it('--host 0.0.0.0 without credentials exits 1 with one clear line', async () => {
    const dir = newDir();
    const result = await runCli(
      ['serve', '--host', '0.0.0.0', '--port', '0', '--db', `sqlite:${join(dir, 'cli.db')}`],
      { env: NO_CREDENTIALS_ENV, timeoutMs: 20_000 },
    );
    oneLineFailure(result, 'refusing to listen on 0.0.0.0', '--webhook-secret', '--insecure-no-auth');
    expect(existsSync(join(dir, 'cli.db'))).toBe(false);
  });

  it('--host 0.0.0.0 with a secret but no admin token exits 1 naming the token option', async () => {
    const dir = newDir();
    const secretFile = join(dir, 'secret');
    writeFileSync(secretFile, 'cli-s3cret-value\n');
    // Private, as a secret file should be: one others can read adds a warning line (tested below).
    chmodSync(secretFile, 0o600);
    const result = await runCli(
      ['serve', '--host', '0.0.0.0', '--port', '0', '--db', `sqlite:${join(dir, 'cli.db')}`],
      {
        env: { ...NO_CREDENTIALS_ENV, DOCV_WEBHOOK_SECRETS_FILE: secretFile },
        timeoutMs: 20_000,
      },
    );
    oneLineFailure(result, '--admin-token', 'DOCV_ADMIN_TOKEN');
    expect(result.stderr).not.toContain('cli-s3cret-value');
  });

  it('DOCV_WEBHOOK_SECRETS_FILE that cannot be read exits 1 naming the variable', async () => {
    const dir = newDir();
    const result = await runCli(['serve', '--port', '0', '--db', `sqlite:${join(dir, 'cli.db')}`], {
      env: { ...NO_CREDENTIALS_ENV, DOCV_WEBHOOK_SECRETS_FILE: join(dir, 'missing') },
      timeoutMs: 20_000,
    });
    oneLineFailure(result, 'DOCV_WEBHOOK_SECRETS_FILE');
  });
});

describe.each(backends)(
  'docv-webhooks serve with secrets from a file (the CLI, as a child process; $name)',
  (backend) => {
    if (skipUnavailable(backend)) return;

    it('DOCV_WEBHOOK_SECRETS_FILE: the secrets in the file are accepted, anything else is 401, and none reaches the output', async () => {
      const dir = newDir();
      const database = await backend.create();
      databases.push(database);
      const current = newSharedSecret('file-current');
      const next = newSharedSecret('file-next');
      const secretFile = join(dir, 'webhook-secrets');
      // As a container secret usually looks: a list with a trailing newline.
      writeFileSync(secretFile, `${current},${next}\n`);
      const proc = spawnCli(['serve', '--host', '127.0.0.1', '--port', '0', '--db', database.url, '--no-dispatch'], {
        env: { ...NO_CREDENTIALS_ENV, DOCV_WEBHOOK_SECRETS_FILE: secretFile },
      });
      try {
        const [, webhookUrl] = await proc.waitForStdout(/POST DocV events to\s+(http:\/\/\S+)/, 20_000);
        expect(proc.stdout).toMatch(/authentication\s+shared-secret/);
        expect((await post(webhookUrl!, eventJson(), { ...JSON_CT, authorization: current })).status).toBe(200);
        expect((await post(webhookUrl!, eventJson(), { ...JSON_CT, authorization: `Bearer ${next}` })).status).toBe(
          200,
        );
        for (const authorization of [`Bearer ${newSharedSecret('other')}`, secretFile, `${current},${next}`]) {
          const res = await post(webhookUrl!, eventJson(), { ...JSON_CT, authorization });
          expect(res.status).toBe(401);
          expect(res.headers['www-authenticate']).toBe('Bearer realm="docv-webhooks"');
        }
        expect((await post(webhookUrl!, eventJson(), JSON_CT)).status).toBe(401);
      } finally {
        proc.child.kill('SIGTERM');
      }
      const result = await proc.exited(15_000);
      expect(result.code, result.stderr).toBe(0);
      for (const secret of [current, next]) {
        expect(result.stdout).not.toContain(secret);
        expect(result.stderr).not.toContain(secret);
      }
      // The failures were logged, by check name.
      expect(result.stdout).toContain('shared-secret: ');
      // Only the two authenticated deliveries were kept.
      expect(await count(database, 'events')).toBe(2);
      expect(await count(database, 'quarantine')).toBe(0);
    });
  },
);

/**
 * Issue 16, item 4: a credential variable or flag that is set but holds nothing usable (`' , '`,
 * a file holding `,`, a token of spaces) counted as "not configured", so the receiver started with
 * "authentication none", no allow-list, or an admin token anyone could send as a blank Basic
 * password. Each is refused now, naming the variable or flag and never the value.
 */
describe('a credential that is set but holds nothing usable stops the start-up', () => {
  /** Everything receiverOptionsFromFlags reads, unset, so only the case under test is set. */
  const UNSET: NodeJS.ProcessEnv = Object.fromEntries(
    [
      'DOCV_WEBHOOK_SECRETS',
      'DOCV_WEBHOOK_BASIC_AUTH',
      'DOCV_WEBHOOK_SIGNING_SECRETS',
      'DOCV_ALLOWED_IPS',
      'DOCV_ADMIN_TOKEN',
      'DOCV_FORWARD_URLS',
      'DOCV_FORWARD_SIGNING_SECRET',
      'SOCURE_API_KEY',
    ].flatMap((name) => [
      [name, ''],
      [`${name}_FILE`, ''],
    ]),
  );
  const fromFlags =
    (flags: Partial<ReceiverFlags>, env: NodeJS.ProcessEnv = {}) =>
    () =>
      receiverOptionsFromFlags({ ordering: true, ...flags }, { ...UNSET, ...env });

  function privateFile(content: string): string {
    const path = join(newDir(), 'secret');
    writeFileSync(path, content);
    chmodSync(path, 0o600);
    return path;
  }

  it.each<[string, string]>([
    ['DOCV_WEBHOOK_SECRETS', ' , '],
    ['DOCV_WEBHOOK_BASIC_AUTH', ' , '],
    ['DOCV_WEBHOOK_SIGNING_SECRETS', ' '],
    ['DOCV_WEBHOOK_SIGNING_SECRETS', ', ,'],
    ['DOCV_ALLOWED_IPS', ' , '],
    ['DOCV_ADMIN_TOKEN', ' '],
    ['DOCV_FORWARD_URLS', ','],
    ['DOCV_FORWARD_SIGNING_SECRET', ' , '],
    ['SOCURE_API_KEY', '  '],
  ])('%s=%j → an error naming the variable', (name, value) => {
    expect(fromFlags({}, { [name]: value })).toThrow(CliError);
    expect(fromFlags({}, { [name]: value })).toThrow(new RegExp(`^${name} `));
  });

  it.each([
    'DOCV_WEBHOOK_SECRETS',
    'DOCV_WEBHOOK_BASIC_AUTH',
    'DOCV_WEBHOOK_SIGNING_SECRETS',
    'DOCV_ALLOWED_IPS',
    'DOCV_FORWARD_URLS',
    'DOCV_FORWARD_SIGNING_SECRET',
  ])('%s_FILE holding "," → an error naming the variable and the file', (name) => {
    const file = privateFile(',\n');
    expect(fromFlags({}, { [`${name}_FILE`]: file })).toThrow(`${name}_FILE: ${file} holds no entries`);
  });

  it.each(['DOCV_ADMIN_TOKEN', 'SOCURE_API_KEY'])(
    '%s_FILE holding only whitespace → an error naming the variable and the file',
    (name) => {
      const file = privateFile(' \n');
      expect(fromFlags({}, { [`${name}_FILE`]: file })).toThrow(`${name}_FILE: ${file} is empty`);
    },
  );

  it.each<[string, Partial<ReceiverFlags>, string]>([
    ['--webhook-secret', { webhookSecret: [' , '] }, '--webhook-secret holds nothing usable'],
    [
      '--webhook-secret',
      { webhookSecret: ['s3cret-value', ''] },
      '--webhook-secret (number 2 of 2) holds nothing usable',
    ],
    ['--basic-auth', { basicAuth: [','] }, '--basic-auth holds nothing usable'],
    ['--signing-secret', { signingSecret: [' '] }, '--signing-secret holds nothing usable'],
    ['--allow-ip', { allowIp: [' , '] }, '--allow-ip holds nothing usable'],
    ['--forward-url', { forwardUrl: [''] }, '--forward-url holds nothing usable'],
    ['--forward-signing-secret', { forwardSigningSecret: [' ,'] }, '--forward-signing-secret holds nothing usable'],
    ['--admin-token', { adminToken: ' ' }, '--admin-token holds nothing usable'],
    ['--admin-token', { adminToken: '' }, '--admin-token holds nothing usable'],
    ['--socure-api-key', { socureApiKey: '' }, '--socure-api-key holds nothing usable'],
  ])('the flag %s → an error naming the flag', (_flag, flags, message) => {
    expect(fromFlags(flags)).toThrow(message);
    expect(fromFlags(flags)).not.toThrow('s3cret-value');
  });

  it('DOCV_ADMIN_TOKEN is read like every other secret: with DOCV_ADMIN_TOKEN_FILE too it is ambiguous, and one trailing newline is not part of it', () => {
    const file = privateFile('file-token\n');
    expect(fromFlags({}, { DOCV_ADMIN_TOKEN: 'env-token', DOCV_ADMIN_TOKEN_FILE: file })).toThrow(
      'DOCV_ADMIN_TOKEN and DOCV_ADMIN_TOKEN_FILE are both set',
    );
    expect(fromFlags({}, { DOCV_ADMIN_TOKEN: 'env-token\n' })().adminToken).toBe('env-token');
    expect(fromFlags({}, { DOCV_ADMIN_TOKEN_FILE: file })().adminToken).toBe('file-token');
  });

  it('empty variables (what NAME= in a compose file gives) still mean "not set"', () => {
    const options = fromFlags({})();
    expect(options.auth).toMatchObject({
      webhookSecrets: undefined,
      basicAuth: undefined,
      signingSecrets: undefined,
      allowIps: undefined,
    });
    expect(options.adminToken).toBeUndefined();
  });

  it.each<[string, StartReceiverOptions, string[]]>([
    [
      'a webhook secret of a space',
      { auth: { webhookSecrets: [' '] } },
      ['webhookSecrets', 'entry 1 is only whitespace'],
    ],
    ['Basic credentials of a space', { auth: { basicAuth: [' '] } }, ['basicAuth', 'entry 1 is only whitespace']],
    [
      'a signing secret of a space',
      { auth: { signingSecrets: [' '] } },
      ['signingSecrets', 'entry 1 is only whitespace'],
    ],
    [
      'an allow-list entry of a space',
      { webhookSecrets: ['s3cret-value'], auth: { allowIps: [' '] } },
      ['allowIps', 'entry 1'],
    ],
    [
      'an admin token of spaces',
      { adminToken: '  ' },
      ['adminToken', '--admin-token', 'DOCV_ADMIN_TOKEN', 'only whitespace'],
    ],
    ['an empty admin token', { adminToken: '' }, ['adminToken', '--admin-token', 'DOCV_ADMIN_TOKEN', 'empty']],
    [
      'an admin token with a space in it',
      { adminToken: 's3cret-value s3cret-value' },
      ['adminToken', 'contains whitespace'],
    ],
  ])(
    'the library: %s → ConfigError naming the option, before any store is opened',
    async (_name, options, mentions) => {
      const error = await refusal({ host: '127.0.0.1', ...options });
      for (const mention of mentions) expect(error.message).toContain(mention);
      expect(error.message).not.toContain('s3cret-value');
    },
  );

  it('the library: startWorker with an admin token of spaces → ConfigError naming it, before any store is opened', async () => {
    const dbPath = join(newDir(), 'worker.db');
    const started = startWorker({
      db: `sqlite:${dbPath}`,
      logLevel: 'silent',
      adminToken: ' ',
      metricsPort: 0,
      dispatch: { forwardUrls: ['http://127.0.0.1:9/hook'] },
    });
    await expect(started).rejects.toThrow(ConfigError);
    await expect(started).rejects.toThrow(/adminToken \(--admin-token, DOCV_ADMIN_TOKEN\): is only whitespace/);
    expect(existsSync(dbPath)).toBe(false);
  });
});

describe('the built CLI refuses a credential that holds nothing usable (child processes; SQLite only: nothing is opened)', () => {
  const BLANK_SAFE_ENV = {
    ...NO_CREDENTIALS_ENV,
    DOCV_FORWARD_URLS: '',
    DOCV_FORWARD_SIGNING_SECRET: '',
    SOCURE_API_KEY: '',
    SOCURE_BASE_URL: '',
  };

  it("serve with DOCV_WEBHOOK_SECRETS=' , ' exits 1 naming the variable (it used to start with authentication none)", async () => {
    const dir = newDir();
    const result = await runCli(['serve', '--port', '0', '--db', `sqlite:${join(dir, 'cli.db')}`], {
      env: { ...BLANK_SAFE_ENV, DOCV_WEBHOOK_SECRETS: ' , ' },
      timeoutMs: 20_000,
    });
    oneLineFailure(result, 'DOCV_WEBHOOK_SECRETS holds no entries');
    expect(existsSync(join(dir, 'cli.db'))).toBe(false);
  });

  it('serve with DOCV_ALLOWED_IPS_FILE holding "," exits 1 naming the variable and the file (it used to start with no allow-list)', async () => {
    const dir = newDir();
    const file = join(dir, 'allowed-ips');
    writeFileSync(file, ',\n');
    chmodSync(file, 0o600);
    const result = await runCli(['serve', '--port', '0', '--db', `sqlite:${join(dir, 'cli.db')}`], {
      env: { ...BLANK_SAFE_ENV, DOCV_WEBHOOK_SECRETS: 'cli-s3cret-value', DOCV_ALLOWED_IPS_FILE: file },
      timeoutMs: 20_000,
    });
    oneLineFailure(result, `DOCV_ALLOWED_IPS_FILE: ${file} holds no entries`);
    expect(result.stderr).not.toContain('cli-s3cret-value');
  });

  it("serve --webhook-secret ' , ' exits 1 naming the flag", async () => {
    const dir = newDir();
    const result = await runCli(
      ['serve', '--port', '0', '--db', `sqlite:${join(dir, 'cli.db')}`, '--webhook-secret', ' , '],
      { env: BLANK_SAFE_ENV, timeoutMs: 20_000 },
    );
    oneLineFailure(result, '--webhook-secret holds nothing usable');
  });

  it("worker with DOCV_ADMIN_TOKEN=' ' exits 1 naming the variable (it used to serve /metrics behind a blank token)", async () => {
    const dir = newDir();
    const result = await runCli(
      [
        'worker',
        '--db',
        `sqlite:${join(dir, 'cli.db')}`,
        '--forward-url',
        'http://127.0.0.1:9/hook',
        '--metrics-port',
        '0',
      ],
      {
        env: { ...BLANK_SAFE_ENV, DOCV_ADMIN_TOKEN: ' ' },
        timeoutMs: 20_000,
      },
    );
    oneLineFailure(result, 'DOCV_ADMIN_TOKEN is set but holds only whitespace');
    expect(existsSync(join(dir, 'cli.db'))).toBe(false);
  });

  it("trigger with DOCV_WEBHOOK_SIGNING_SECRETS=' , ' exits 1 naming the variable, and sends nothing unsigned", async () => {
    const result = await runCli(
      ['trigger', 'APP_OPENED', '--target', 'http://127.0.0.1:9/hook', '--retry-schedule', 'none'],
      {
        env: { DOCV_WEBHOOK_SIGNING_SECRETS: ' , ' },
        timeoutMs: 20_000,
      },
    );
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toBe(
      'docv-webhooks: --signing-secret (DOCV_WEBHOOK_SIGNING_SECRETS) holds nothing usable: only separators and whitespace\n',
    );
    expect(result.stdout).not.toContain('attempt');
  });

  it('the sandbox with a first webhook secret that is empty exits 1 without quoting the rest of the variable', async () => {
    const result = await runCli(['sandbox', '--port', '0', '--db', 'sqlite::memory:'], {
      env: { DOCV_WEBHOOK_SECRETS: ', cli-s3cret-value' },
      timeoutMs: 20_000,
    });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain('--webhook-secret (DOCV_WEBHOOK_SECRETS)');
    expect(result.stderr).not.toContain('cli-s3cret-value');
  });
});

describe('a secret file other users can read: a warning naming the variable and the file (the CLI, as a child process)', () => {
  async function serveWithSecretFile(mode: number): Promise<{ result: CliResult; file: string }> {
    const dir = newDir();
    const file = join(dir, 'webhook-secrets');
    writeFileSync(file, 'cli-s3cret-value\n');
    chmodSync(file, mode);
    // Refused after the secrets were read (no admin token beyond loopback): nothing listens.
    const result = await runCli(
      ['serve', '--host', '0.0.0.0', '--port', '0', '--db', `sqlite:${join(dir, 'cli.db')}`],
      {
        env: { ...NO_CREDENTIALS_ENV, DOCV_WEBHOOK_SECRETS_FILE: file },
        timeoutMs: 20_000,
      },
    );
    return { result, file };
  }

  it.runIf(process.platform !== 'win32')(
    '0644: one warning line before the error, naming DOCV_WEBHOOK_SECRETS_FILE and the file, never the secret',
    async () => {
      const { result, file } = await serveWithSecretFile(0o644);
      expect(result.code, result.stderr).toBe(1);
      const lines = result.stderr.split('\n').filter((l) => l !== '');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toBe(
        `docv-webhooks: warning: DOCV_WEBHOOK_SECRETS_FILE: ${file} is open to other users than its owner (mode 0644); make it private: chmod 600 ${file}`,
      );
      expect(lines[1]).toContain('--admin-token');
      expect(result.stderr).not.toContain('cli-s3cret-value');
    },
  );

  it('0600: no warning', async () => {
    const { result } = await serveWithSecretFile(0o600);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).not.toContain('warning');
    oneLineFailure(result, '--admin-token');
  });
});
