import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { secretFingerprint } from '../../src/compose/source-summary.js';
import { killLiveCliProcesses, runCli, type CliResult } from '../helpers/cli.js';
import { tempDir } from '../helpers/receiver.js';

/**
 * `docv-webhooks sources list|check` (issue 20), the built CLI in a fresh process each time: the
 * sources of a config file with their secrets shown only as fingerprints, and the check an
 * operator runs before a SIGHUP.
 */

const dir = tempDir('docv-sources-cli-');
afterAll(() => {
  killLiveCliProcesses();
  rmSync(dir, { recursive: true, force: true });
});

const SECRETS = {
  prod: 'prod-webhook-secret-0001',
  prodNext: 'prod-webhook-secret-0002',
  socure: 'socure-api-key-prod-0003',
  basicPassword: 'sandbox-basic-password-0004',
  signing: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
};
const ENV = { PROD_SECRET: SECRETS.prod, PROD_SECRET_NEXT: SECRETS.prodNext, SOCURE_PROD_KEY: SECRETS.socure };

writeFileSync(join(dir, 'basic'), `crm:${SECRETS.basicPassword}\n`, { mode: 0o600 });
const GOOD = join(dir, 'docv-webhooks.yaml');
writeFileSync(
  GOOD,
  `retention: raw=30d,events=400d
sources:
  - name: prod
    path: /socure/prod/webhook
    environment: Production
    dialect: socure-v5
    auth:
      webhookSecrets: [ {env: PROD_SECRET}, {env: PROD_SECRET_NEXT} ]
      allowIps: [ 10.0.0.0/8 ]
    retention: raw=7d
    socure: { baseUrl: https://api.socure.com, apiKey: {env: SOCURE_PROD_KEY} }
  - name: sandbox
    path: /socure/sandbox/webhook
    auth:
      basicAuth: [ {file: basic} ]
      signingSecrets: [ "${SECRETS.signing}" ]
destinations:
  - url: https://crm.internal/hooks/docv
    sources: [prod]
    eventTypes: [VERIFICATION_COMPLETED]
  - url: https://audit.internal/docv
`,
);
const BAD = join(dir, 'bad.yaml');
writeFileSync(
  BAD,
  `sources:
  - name: prod
    path: /socure/prod/webhook
    auth:
      webhookSecrets: [ {env: PROD_SECRET}, {env: NOT_SET_HERE} ]
      signingSecrets: [ "whsec_${SECRETS.prod}" ]
  - name: prod
    path: /socure/sandbox/webhook
    auht: {}
`,
);

/** Nothing a secret was made of, in anything the process wrote. */
function expectNoSecret(result: CliResult): void {
  for (const secret of Object.values(SECRETS)) {
    expect(result.stdout).not.toContain(secret);
    expect(result.stderr).not.toContain(secret);
  }
}

describe('CLI sources', () => {
  it('list: the sources of the file, secrets as fingerprints only', async () => {
    const result = await runCli(['sources', 'list', '--config', GOOD], { env: ENV });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expectNoSecret(result);
    const [header, rule, prod, sandbox] = result.stdout.trimEnd().split('\n');
    expect(header!.split(/ {2,}/)).toEqual([
      'name',
      'path',
      'dialect',
      'environment',
      'credentials',
      'allowIps',
      'retention',
    ]);
    expect(rule).toMatch(/^-+( {2}-+)+$/);
    expect(prod).toMatch(/^prod +\/socure\/prod\/webhook +socure-v5 +Production +shared secret /);
    expect(prod).toContain(`${secretFingerprint(SECRETS.prod)}, ${secretFingerprint(SECRETS.prodNext)}`);
    expect(prod).toMatch(/10\.0\.0\.0\/8 +raw=7d$/);
    expect(sandbox).toContain(`basic crm:${secretFingerprint(SECRETS.basicPassword)}`);
    expect(sandbox).toContain(`signature ${secretFingerprint(SECRETS.signing)}`);
    expect(sandbox).toMatch(/raw=30d,events=400d \(receiver-wide\)$/);
  });

  it('list --json: the summaries, and the config file and receiver-wide retention', async () => {
    const result = await runCli(['sources', 'list', '--json'], { env: { ...ENV, DOCV_CONFIG: GOOD } });
    expect(result.code).toBe(0);
    expectNoSecret(result);
    const listed = JSON.parse(result.stdout) as { configFile: string; retention: string; items: unknown[] };
    expect(listed.configFile).toBe(GOOD);
    expect(listed.retention).toBe('raw=30d,events=400d');
    expect(listed.items).toEqual([
      {
        name: 'prod',
        path: '/socure/prod/webhook',
        dialect: 'socure-v5',
        environment: 'Production',
        credentials: [`shared secret ${secretFingerprint(SECRETS.prod)}, ${secretFingerprint(SECRETS.prodNext)}`],
        allowIps: ['10.0.0.0/8'],
        retention: 'raw=7d',
        decisionFetchUrl: 'https://api.socure.com',
      },
      expect.objectContaining({ name: 'sandbox', dialect: 'any', environment: null, retention: null }),
    ]);
  });

  it('list without a config file: the single source the flags and environment make', async () => {
    const result = await runCli(
      ['sources', 'list', '--json', '--webhook-path', '/hooks', '--allow-ip', '10.1.0.0/16'],
      {
        env: { DOCV_WEBHOOK_SECRETS: SECRETS.prod },
      },
    );
    expect(result.code).toBe(0);
    expectNoSecret(result);
    expect(JSON.parse(result.stdout)).toEqual({
      configFile: null,
      retention: null,
      items: [
        {
          name: 'default',
          path: '/hooks',
          dialect: 'any',
          environment: null,
          credentials: [`shared secret ${secretFingerprint(SECRETS.prod)}`],
          allowIps: ['10.1.0.0/16'],
          retention: null,
          decisionFetchUrl: null,
        },
      ],
    });
  });

  it('list refuses a single-source flag beside the sources of the file, naming both', async () => {
    const result = await runCli(['sources', 'list', '--config', GOOD], {
      env: { ...ENV, DOCV_WEBHOOK_SECRETS: SECRETS.prodNext },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${GOOD} declares sources`);
    expect(result.stderr).toContain('--webhook-secret (DOCV_WEBHOOK_SECRETS) is set too');
    expectNoSecret(result);
  });

  it('check: ok with the counts, exit 0', async () => {
    const result = await runCli(['sources', 'check', '--config', GOOD], { env: ENV });
    expect(result).toMatchObject({ code: 0, stdout: 'ok: 2 sources, 2 destinations\n', stderr: '' });
  });

  it('check: every problem on a line of its own, file:line:col first, exit 1, no secret', async () => {
    const result = await runCli(['sources', 'check', '--config', BAD], { env: ENV });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expectNoSecret(result);
    expect(result.stderr.trimEnd().split('\n')).toEqual([
      `${BAD}:5:45: $.sources[0].auth.webhookSecrets[1]: environment variable NOT_SET_HERE is not set`,
      `${BAD}:6:25: $.sources[0].auth.signingSecrets[0]: signing secret "whsec_…" is not valid base64 after the prefix; was it truncated or copied with extra characters?`,
      `${BAD}:7:11: $.sources[1].name: "prod" is also the name of sources[0]`,
      `${BAD}:9:5: $.sources[1].auht: unknown key "auht"; did you mean auth? (known: name, path, environment, dialect, auth, retention, socure)`,
    ]);
  });

  it('check: a file that is not there, or none given, exit 1', async () => {
    const missing = await runCli(['sources', 'check', '--config', join(dir, 'missing.yaml')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`${join(dir, 'missing.yaml')}: cannot read the config file (ENOENT)\n`);
    const none = await runCli(['sources', 'check']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('sources check needs --config <file> (or DOCV_CONFIG)');
  });

  it('serve and worker refuse to start on a file with problems, naming their lines', async () => {
    const db = `sqlite:${join(dir, 'receiver.db')}`;
    for (const command of [['serve', '--port', '0'], ['worker']]) {
      const result = await runCli([...command, '--db', db, '--config', BAD], { env: ENV });
      expect(result.code, command[0]).toBe(1);
      expect(result.stderr, command[0]).toContain(
        `${BAD}:5:45: $.sources[0].auth.webhookSecrets[1]: environment variable NOT_SET_HERE is not set`,
      );
      expect(result.stderr, command[0]).toContain(`${BAD}:9:5: $.sources[1].auht: unknown key "auht"`);
      expectNoSecret(result);
    }
  });
});
