import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultReceiverConfig, sourcesOf, type ReceiverConfig } from '../../src/compose/config.js';
import {
  ConfigFileError,
  parseConfigText,
  readConfigFile,
  withConfigFile,
  type ConfigFileContents,
  type ConfigFileProblem,
} from '../../src/compose/config-file.js';
import { ConfigError } from '../../src/compose/errors.js';
import { resolveReceiverConfig } from '../../src/compose/resolve.js';
import { validateSources } from '../../src/compose/sources.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { tempDir } from '../helpers/receiver.js';

/** The config file (issue 20): read with its lines, every problem reported where it is written. */

const DAY = 86_400_000;
const SIGNING = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ENV = { PROD_SECRET: 'prod-secret-1', PROD_SECRET_NEXT: 'prod-secret-2', SOCURE_PROD_KEY: 'socure-key-1' };

const dir = tempDir('docv-config-file-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'basic'), 'crm:basic-password\n', { mode: 0o600 });
const FILE = join(dir, 'docv-webhooks.yaml');

const YAML = `# the receiver's sources
retention: raw=30d,events=400d
sources:
  - name: prod
    path: /socure/prod/webhook
    environment: Production
    dialect: socure-v5
    auth:
      webhookSecrets: [ {env: PROD_SECRET}, {env: PROD_SECRET_NEXT} ]
      signingSecrets: [ "${SIGNING}" ]
      signatureToleranceSeconds: 120
      allowIps: [ 10.0.0.0/8, "2001:db8::/32" ]
    retention: raw=7d
    socure: { baseUrl: https://api.socure.com, apiKey: {env: SOCURE_PROD_KEY} }
  - name: sandbox
    path: /socure/sandbox/webhook
    auth:
      basicAuth: [ {file: basic} ]
    retention: { raw: 1d, events: 30d }
destinations:
  - url: https://crm.internal/hooks/docv
    sources: [prod]
    eventTypes: [VERIFICATION_COMPLETED]
  - url: https://audit.internal/docv
`;

const JSON_TEXT = JSON.stringify(
  {
    retention: 'raw=30d,events=400d',
    sources: [
      {
        name: 'prod',
        path: '/socure/prod/webhook',
        environment: 'Production',
        dialect: 'socure-v5',
        auth: {
          webhookSecrets: [{ env: 'PROD_SECRET' }, { env: 'PROD_SECRET_NEXT' }],
          signingSecrets: [SIGNING],
          signatureToleranceSeconds: 120,
          allowIps: ['10.0.0.0/8', '2001:db8::/32'],
        },
        retention: 'raw=7d',
        socure: { baseUrl: 'https://api.socure.com', apiKey: { env: 'SOCURE_PROD_KEY' } },
      },
      {
        name: 'sandbox',
        path: '/socure/sandbox/webhook',
        auth: { basicAuth: [{ file: 'basic' }] },
        retention: { raw: '1d', events: '30d' },
      },
    ],
    destinations: [
      { url: 'https://crm.internal/hooks/docv', sources: ['prod'], eventTypes: ['VERIFICATION_COMPLETED'] },
      { url: 'https://audit.internal/docv' },
    ],
  },
  null,
  2,
);

const EXPECTED: ConfigFileContents = {
  retention: { raw: 30 * DAY, events: 400 * DAY },
  sources: [
    {
      name: 'prod',
      path: '/socure/prod/webhook',
      environment: 'Production',
      dialect: 'socure-v5',
      auth: {
        webhookSecrets: ['prod-secret-1', 'prod-secret-2'],
        signingSecrets: [SIGNING],
        signatureToleranceSeconds: 120,
        allowIps: ['10.0.0.0/8', '2001:db8::/32'],
      },
      retention: { raw: 7 * DAY },
      socure: { baseUrl: 'https://api.socure.com', apiKey: 'socure-key-1' },
    },
    {
      name: 'sandbox',
      path: '/socure/sandbox/webhook',
      // Read from the file beside the config file, its trailing newline removed.
      auth: { basicAuth: ['crm:basic-password'] },
      retention: { raw: DAY, events: 30 * DAY },
    },
  ],
  destinations: [
    { url: 'https://crm.internal/hooks/docv', sources: ['prod'], eventTypes: ['VERIFICATION_COMPLETED'] },
    { url: 'https://audit.internal/docv' },
  ],
};

/** The problems of a text that must be refused. */
function problems(text: string, env: NodeJS.ProcessEnv = ENV): ConfigFileProblem[] {
  try {
    parseConfigText(text, FILE, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigFileError);
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigFileError).problems];
  }
  throw new Error('the text was accepted');
}

/** A file of one source with `lines` in its auth (indented under it), and what is wrong with it. */
function authProblems(lines: string[], env: NodeJS.ProcessEnv = ENV): ConfigFileProblem[] {
  return problems(
    ['sources:', '  - name: prod', '    path: /p', '    auth:', ...lines.map((l) => `      ${l}`)].join('\n'),
    env,
  );
}

describe('parseConfigText: a valid file', () => {
  it('reads YAML: secrets from the environment and files, ages, sources and destinations', () => {
    expect(parseConfigText(YAML, FILE, ENV)).toEqual(EXPECTED);
  });

  it('reads the same file written as JSON the same way', () => {
    expect(parseConfigText(JSON_TEXT, join(dir, 'docv-webhooks.json'), ENV)).toEqual(EXPECTED);
  });

  it('takes a file without sources (destinations and retention only), and one with nothing of a part', () => {
    expect(parseConfigText('destinations: []\n', FILE, {})).toEqual({ destinations: [] });
    expect(parseConfigText('retention: off\n', FILE, {})).toEqual({ retention: {} });
    // A source without credentials is allowed here: the server keeps it to loopback.
    expect(parseConfigText('sources:\n  - {name: local, path: /local}\n', FILE, {}).sources).toEqual([
      { name: 'local', path: '/local', auth: {} },
    ]);
  });

  it('reads readConfigFile from disk, and refuses a file it cannot read', () => {
    writeFileSync(FILE, YAML);
    expect(readConfigFile(FILE, ENV)).toEqual(EXPECTED);
    expect(() => readConfigFile(join(dir, 'missing.yaml'), ENV)).toThrow(
      new ConfigFileError(`${join(dir, 'missing.yaml')}: cannot read the config file (ENOENT)`),
    );
  });
});

describe('parseConfigText: every problem, with its line', () => {
  it('formats each as <file>:<line>:<col>: <json path>: <problem>, all of them, in line order', () => {
    const text = ['sources:', '  - name: Prod', '    path: nope', '    auth: {}', 'destination: []'].join('\n');
    let message = '';
    try {
      parseConfigText(text, FILE, {});
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message.split('\n')).toEqual([
      `${FILE}:2:11: $.sources[0].name: "Prod" is not a source name: use 1 to 64 lower-case letters, digits, "-" or "_", starting with a letter or digit`,
      `${FILE}:3:11: $.sources[0].path: "nope" must start with "/"`,
      `${FILE}:5:1: $.destination: unknown key "destination"; did you mean destinations? (known: retention, sources, destinations)`,
    ]);
  });

  it('an unknown key, at any depth, names its own line', () => {
    expect(authProblems(['webhookSecret: [s3cret]'])).toEqual([
      expect.objectContaining({
        line: 5,
        col: 7,
        path: '$.sources[0].auth.webhookSecret',
        message: expect.stringContaining('unknown key "webhookSecret"; did you mean webhookSecrets?'),
      }),
    ]);
    expect(problems('sources:\n  - name: prod\n    path: /p\n    paht: /q\n')).toEqual([
      expect.objectContaining({
        line: 4,
        path: '$.sources[0].paht',
        message: expect.stringMatching(/did you mean path\?/),
      }),
    ]);
  });

  it('a bad source name', () => {
    expect(problems('sources:\n  - name: "prod west"\n    path: /p\n')).toEqual([
      expect.objectContaining({
        line: 2,
        path: '$.sources[0].name',
        message: expect.stringMatching(/is not a source name/),
      }),
    ]);
  });

  it('a duplicate path or name, on the second one', () => {
    const text = [
      'sources:',
      '  - name: prod',
      '    path: /socure/webhook',
      '  - name: sandbox',
      '    path: /socure/webhook',
      '  - name: prod',
      '    path: /other',
    ].join('\n');
    expect(problems(text)).toEqual([
      expect.objectContaining({
        line: 5,
        path: '$.sources[1].path',
        message: '"/socure/webhook" is also the path of sources[0]',
      }),
      expect.objectContaining({ line: 6, path: '$.sources[2].name', message: '"prod" is also the name of sources[0]' }),
    ]);
  });

  it('a path the receiver answers itself, or one the router would read as a pattern', () => {
    expect(problems('sources:\n  - {name: a, path: /v1/hooks}\n  - {name: b, path: "/hooks/:id"}\n')).toEqual([
      expect.objectContaining({ line: 2, message: '"/v1/hooks" is under /v1, which the receiver answers itself' }),
      expect.objectContaining({ line: 3, message: '"/hooks/:id" may hold only letters, digits and - . _ ~ /' }),
    ]);
  });

  it('a bad dialect, once', () => {
    expect(problems('sources:\n  - name: prod\n    path: /p\n    dialect: socure-v4\n')).toEqual([
      expect.objectContaining({
        line: 4,
        path: '$.sources[0].dialect',
        message: '"socure-v4" is not one of asyncapi, socure-v5, riskos',
      }),
    ]);
  });

  it('an environment variable that is not set, or empty', () => {
    expect(
      authProblems(['webhookSecrets:', '  - {env: PROD_SECRET}', '  - {env: UNSET_ONE}', '  - {env: EMPTY}'], {
        ...ENV,
        EMPTY: '',
      }),
    ).toEqual([
      expect.objectContaining({
        line: 7,
        path: '$.sources[0].auth.webhookSecrets[1]',
        message: 'environment variable UNSET_ONE is not set',
      }),
      expect.objectContaining({
        line: 8,
        path: '$.sources[0].auth.webhookSecrets[2]',
        message: 'environment variable EMPTY is empty',
      }),
    ]);
  });

  it('a file secret that cannot be read, or is empty', () => {
    writeFileSync(join(dir, 'empty'), '\n');
    writeFileSync(join(dir, 'locked'), 'x');
    chmodSync(join(dir, 'locked'), 0o000);
    const locked =
      process.getuid?.() === 0 ? [] : [expect.objectContaining({ line: 7, message: expect.stringMatching(/EACCES/) })];
    expect(
      authProblems(['webhookSecrets:', '  - {file: /nonexistent/secret}', '  - {file: locked}', '  - {file: empty}']),
    ).toEqual([
      expect.objectContaining({
        line: 6,
        path: '$.sources[0].auth.webhookSecrets[0]',
        message: 'cannot read /nonexistent/secret (ENOENT)',
      }),
      ...locked,
      expect.objectContaining({ line: 8, message: `${join(dir, 'empty')} is empty` }),
    ]);
  });

  it('a malformed whsec_ signing secret, without quoting it', () => {
    const found = authProblems(['signingSecrets:', `  - ${SIGNING}`, '  - whsec_not*base64']);
    expect(found).toEqual([
      expect.objectContaining({
        line: 7,
        path: '$.sources[0].auth.signingSecrets[1]',
        message: expect.stringMatching(/^signing secret "whsec_…" is not valid base64/),
      }),
    ]);
    expect(JSON.stringify(found)).not.toContain('not*base64');
  });

  it('a secret with whitespace in it (a newline from a paste), without quoting it', () => {
    const found = authProblems(['webhookSecrets: ["two words"]']);
    expect(found).toEqual([
      expect.objectContaining({ line: 5, message: expect.stringMatching(/^contains whitespace/) }),
    ]);
    expect(JSON.stringify(found)).not.toContain('two words');
  });

  it('a bad CIDR on the allow-list', () => {
    expect(authProblems(['allowIps:', '  - 10.0.0.0/8', '  - 10.0.0.0/33'])).toEqual([
      expect.objectContaining({
        line: 7,
        col: 11,
        path: '$.sources[0].auth.allowIps[1]',
        message: expect.stringMatching(/^"10\.0\.0\.0\/33" is not an IPv4\/IPv6 address or CIDR/),
      }),
    ]);
  });

  it('Basic beside a shared secret, and a user:pass without a colon', () => {
    expect(authProblems(['webhookSecrets: [s3cret]', 'basicAuth: [crm-no-colon, "crm:pw"]'])).toEqual([
      expect.objectContaining({
        line: 6,
        col: 18,
        path: '$.sources[0].auth.basicAuth',
        message: expect.stringMatching(/^cannot be combined with webhookSecrets/),
      }),
      expect.objectContaining({
        line: 6,
        col: 19,
        path: '$.sources[0].auth.basicAuth[0]',
        message: 'has no colon; write it as user:pass',
      }),
    ]);
  });

  it('a destination subscribing to a source that is not declared, or a misspelt event type', () => {
    const text = [
      'sources:',
      '  - {name: prod, path: /prod}',
      'destinations:',
      '  - url: https://crm.internal/docv',
      '    sources: [prod, sandbox]',
      '    eventTypes: [VERIFICATION_COMPLETE, SOMETHING_NEW]',
      '  - url: ftp://crm.internal/docv',
    ].join('\n');
    expect(problems(text)).toEqual([
      expect.objectContaining({
        line: 5,
        col: 21,
        path: '$.destinations[0].sources[1]',
        message: '"sandbox" is not a declared source ("prod")',
      }),
      expect.objectContaining({
        line: 6,
        path: '$.destinations[0].eventTypes[0]',
        message: '"VERIFICATION_COMPLETE" is not an event type; did you mean VERIFICATION_COMPLETED?',
      }),
      expect.objectContaining({
        line: 7,
        path: '$.destinations[1].url',
        message: expect.stringMatching(/must be http\(s\)/),
      }),
    ]);
    // Without sources, the one the flags make is `default`.
    expect(parseConfigText('destinations:\n  - {url: "https://x.internal/a", sources: [default]}\n', FILE, {})).toEqual(
      {
        destinations: [{ url: 'https://x.internal/a', sources: ['default'] }],
      },
    );
    expect(problems('destinations:\n  - {url: "https://x.internal/a", sources: [prod]}\n')).toEqual([
      expect.objectContaining({ line: 2, message: '"prod" is not a declared source ("default")' }),
    ]);
  });

  it('a bad retention, as a string or by part', () => {
    expect(problems('retention: raw=1w\n')).toEqual([
      expect.objectContaining({
        line: 1,
        col: 12,
        path: '$.retention',
        message: 'raw: "1w" is not an age like 30d, 12h, 90m or 45s',
      }),
    ]);
    const text = [
      'sources:',
      '  - name: prod',
      '    path: /p',
      '    retention:',
      '      raw: 40d',
      '      events: 30d',
      '      forever: 1d',
    ].join('\n');
    expect(problems(text)).toEqual([
      expect.objectContaining({
        line: 5,
        path: '$.sources[0].retention.raw',
        message: 'is longer than events: a raw body cannot outlive its event',
      }),
      expect.objectContaining({
        line: 7,
        path: '$.sources[0].retention.forever',
        message: expect.stringMatching(/^unknown key "forever"/),
      }),
    ]);
  });

  it('a wrong type or a missing key, and a YAML error', () => {
    expect(problems('sources:\n  - name: prod\n    auth: {webhookSecrets: [12345678]}\n')).toEqual([
      expect.objectContaining({ line: 2, path: '$.sources[0]', message: '"path" is missing' }),
      expect.objectContaining({
        line: 3,
        path: '$.sources[0].auth.webhookSecrets[0]',
        message: 'must be a secret: a string, {env: NAME} or {file: /path} (quote a value YAML reads as a number)',
      }),
    ]);
    expect(problems('sources:\n  - name: prod\n    name: again\n    path: /p\n')).toEqual([
      expect.objectContaining({ line: 3, col: 5, path: 'syntax', message: 'Map keys must be unique' }),
    ]);
    expect(problems('')).toEqual([
      expect.objectContaining({
        line: 1,
        col: 1,
        path: '$',
        message: 'must be a mapping of sources, destinations and retention',
      }),
    ]);
  });
});

describe('withConfigFile: the flags with the file', () => {
  const contents = (): ConfigFileContents => parseConfigText(YAML, FILE, ENV);

  it('takes the file sources, destinations beside --forward-url, its retention, and names the file', () => {
    const flags = resolveReceiverConfig({ dispatch: { forwardUrls: ['https://flags.internal/docv'] } });
    const config = withConfigFile(flags, contents(), FILE);
    expect(sourcesOf(config).map((s) => s.name)).toEqual(['prod', 'sandbox']);
    expect(config.destinations).toEqual(EXPECTED.destinations);
    expect(config.dispatch.forwardUrls).toEqual(['https://flags.internal/docv']);
    expect(config.retention).toEqual({ raw: 30 * DAY, events: 400 * DAY });
    expect(config.configFile).toBe(FILE);
    // Applied to the flags' configuration again (a SIGHUP), nothing of the last file lingers.
    const again = withConfigFile(flags, parseConfigText('destinations: []\n', FILE, {}), FILE);
    expect(sourcesOf(again).map((s) => s.name)).toEqual(['default']);
    expect(again.destinations).toBeUndefined();
    expect(again.retention).toBeUndefined();
  });

  it("keeps the flags' single source when the file declares none", () => {
    const flags = resolveReceiverConfig({ webhookPath: '/hooks', auth: { webhookSecrets: ['s'] }, dialect: 'riskos' });
    const config = withConfigFile(flags, { destinations: [{ url: 'https://x.internal/a' }] }, FILE);
    expect(sourcesOf(config)).toEqual([
      expect.objectContaining({ name: 'default', path: '/hooks', dialect: 'riskos', auth: { webhookSecrets: ['s'] } }),
    ]);
  });

  it('refuses single-source flags beside file sources, naming each flag and the file', () => {
    const cases: Array<[Partial<ReceiverConfig>, string]> = [
      [{ webhookPath: '/hooks' }, '--webhook-path (DOCV_WEBHOOK_PATH)'],
      [{ auth: { webhookSecrets: ['s'] } }, '--webhook-secret (DOCV_WEBHOOK_SECRETS)'],
      [{ auth: { basicAuth: ['u:p'] } }, '--basic-auth (DOCV_WEBHOOK_BASIC_AUTH)'],
      [{ auth: { signingSecrets: [SIGNING] } }, '--signing-secret (DOCV_WEBHOOK_SIGNING_SECRETS)'],
      [{ auth: { signatureToleranceSeconds: 60 } }, '--signature-tolerance (DOCV_SIGNATURE_TOLERANCE_SECONDS)'],
      [{ auth: { allowIps: ['10.0.0.0/8'] } }, '--allow-ip (DOCV_ALLOWED_IPS)'],
      [{ dialect: 'riskos' }, '--dialect (DOCV_DIALECT)'],
    ];
    for (const [flags, named] of cases) {
      const config = defaultReceiverConfig(flags);
      expect(() => withConfigFile(config, contents(), FILE), named).toThrow(ConfigError);
      expect(() => withConfigFile(config, contents(), FILE), named).toThrow(
        `${FILE} declares sources, each with its own path, credentials, dialect and allow-list, but ${named} is set too`,
      );
    }
    // trustProxy is the receiver's, not a source's.
    expect(() => withConfigFile(defaultReceiverConfig({ auth: { trustProxy: true } }), contents(), FILE)).not.toThrow();
  });

  it('refuses --retention beside the retention of the file', () => {
    expect(() => withConfigFile(defaultReceiverConfig({ retention: { raw: DAY } }), contents(), FILE)).toThrow(
      `--retention (DOCV_RETENTION) and the retention of ${FILE} are both set: keep one of them`,
    );
  });

  it('refuses a file destination that is also a --forward-url', () => {
    const flags = defaultReceiverConfig({ dispatch: { forwardUrls: ['https://crm.internal/hooks/docv'] } });
    expect(() => withConfigFile(flags, contents(), FILE)).toThrow(
      `${FILE}: destinations[0].url: forward:crm.internal/hooks/docv is also --forward-url`,
    );
  });

  it("refuses half of a source's decision fetch: its base URL and API key go together", () => {
    expect(problems('sources:\n  - {name: prod, path: /p, socure: {apiKey: k}}\n')).toEqual([
      expect.objectContaining({ line: 2, path: '$.sources[0].socure', message: '"baseUrl" is missing' }),
    ]);
    expect(() =>
      resolveReceiverConfig({ sources: [{ name: 'prod', path: '/p', auth: {}, socure: { apiKey: 'k' } }] }),
    ).toThrow('sources[0].socure.baseUrl: is missing: baseUrl and apiKey go together');
    expect(() =>
      resolveReceiverConfig({
        sources: [{ name: 'prod', path: '/p', auth: {}, socure: { baseUrl: 'https://u:p@x.socure.com', apiKey: 'k' } }],
      }),
    ).toThrow(
      'sources[0].socure.baseUrl: "https://***@x.socure.com" carries user:password; the API key goes in apiKey',
    );
  });
});

describe('validateSources (library callers, through resolveReceiverConfig)', () => {
  it('refuses what the file refuses, every problem in one message', () => {
    expect(() =>
      resolveReceiverConfig({
        sources: [
          { name: 'prod', path: '/p', auth: { allowIps: ['nope'] } },
          { name: 'prod', path: '/dashboard', auth: {}, retention: { raw: 0 } },
        ],
      }),
    ).toThrow(
      new ConfigError(
        [
          'sources[0].auth.allowIps: entry 1 ("nope") is not an IPv4/IPv6 address or CIDR such as 203.0.113.0/24 or 2001:db8::/32',
          'sources[1].name: "prod" is also the name of sources[0]',
          'sources[1].path: "/dashboard" is under /dashboard, which the receiver answers itself',
          'sources[1].retention.raw: must be a positive whole number of milliseconds',
        ].join('\n'),
      ),
    );
    expect(() => validateSources([{ name: 'a', path: '/a', auth: {}, dialect: 'v9' as never }])).toThrow(
      'sources[0].dialect: "v9" is not one of asyncapi, socure-v5, riskos',
    );
  });

  it('refuses a destination subscribing to a source that is not there', () => {
    expect(() =>
      resolveReceiverConfig({
        sources: [{ name: 'prod', path: '/p', auth: {} }],
        destinations: [{ url: 'https://x.internal/a', sources: ['default'] }],
      }),
    ).toThrow('destinations[0].sources[0]: "default" is not a declared source ("prod")');
    expect(() =>
      resolveReceiverConfig({ destinations: [{ url: 'https://x.internal/a', sources: ['default'] }] }),
    ).not.toThrow();
  });
});

describe('the example of docs/configuration.md', () => {
  const doc = readFileSync(join(REPO_ROOT, 'docs/configuration.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Sources and the config file'));
  const example = /```yaml\n([\s\S]*?)\n```/.exec(section)![1]!;
  const whsec = join(dir, 'socure-sandbox-whsec');
  writeFileSync(whsec, `${SIGNING}\n`);
  const text = example.replace('/run/secrets/socure-sandbox-whsec', whsec);

  it('is a valid file', () => {
    const contents = parseConfigText(text, 'docv-webhooks.yaml', ENV);
    expect(contents.sources?.map((s) => s.name)).toEqual(['prod', 'sandbox']);
    expect(contents.sources?.[1]?.auth).toEqual({ signingSecrets: [SIGNING] });
    expect(contents.destinations).toHaveLength(2);
  });

  it('gives the errors the page shows, for the mistakes it describes', () => {
    const shown = /```\n(docv-webhooks\.yaml:[\s\S]*?)\n```/.exec(section)![1]!.split('\n');
    const mistaken = text
      .replace('203.0.113.0/24', '203.0.113.0/33')
      .replace('path: /socure/sandbox/webhook', 'path: /socure/prod/webhook')
      .replace('signingSecrets: [', 'webhookSecret: [');
    const { PROD_SECRET_NEXT: _unset, ...env } = ENV;
    expect(() => parseConfigText(mistaken, 'docv-webhooks.yaml', env)).toThrow(
      expect.objectContaining({ name: 'ConfigFileError', message: shown.join('\n') }),
    );
  });
});
