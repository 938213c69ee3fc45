import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { skipUnavailable, testBackends, type TestDatabase } from '../helpers/backends.js';
import { freePort, killLiveCliProcesses, runCli, spawnCli, type CliResult } from '../helpers/cli.js';
import { startSink } from '../helpers/http-sink.js';
import { docvEvent, startTestReceiver, tempDir } from '../helpers/receiver.js';
import { waitFor } from '../helpers/wait.js';
import {
  eventJson,
  get,
  JSON_CT,
  memoryLogger,
  newSharedSecret,
  newSigningSecret,
  post,
  signatureHeaders,
  envWithoutCredentials,
  CREDENTIAL_VARIABLES,
} from './helpers.js';

/**
 * Issue 16, items 7 and 8: credentials that reach the receiver with its configuration (a URL's
 * user:password or a `?password=`/`?token=` parameter) or with a delivery (a header) are never
 * printed, logged, stored or shown. Start-up cases run the built CLI in a fresh process, as an
 * operator would; the rest run a real receiver on 127.0.0.1.
 */

const backends = await testBackends();

const dirs: string[] = [];
function newDir(): string {
  const dir = tempDir('docv-redact-');
  dirs.push(dir);
  return dir;
}
const databases: TestDatabase[] = [];

afterAll(async () => {
  killLiveCliProcesses();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  await Promise.all(databases.map((d) => d.drop()));
});

/** Credentials in the host's environment must not change what the CLI sees. */
const CLEAN_ENV = envWithoutCredentials([
  ...CREDENTIAL_VARIABLES,
  'DOCV_FORWARD_URLS',
  'SOCURE_BASE_URL',
  'SOCURE_API_KEY',
]);

/** Exit 1, one `docv-webhooks:` line that names `mentions`, and no secret anywhere in the output. */
function refusedWithout(result: CliResult, secrets: string[], mentions: string[]): void {
  const output = `${result.stdout}\n${result.stderr}`;
  expect(result.code, output).toBe(1);
  for (const secret of secrets) expect(output).not.toContain(secret);
  for (const mention of mentions) expect(result.stderr).toContain(mention);
}

describe('start-up errors of the CLI name the URL without its credentials (fresh process; SQLite: refused before the store is opened)', () => {
  const sqlite = () => ['--port', '0', '--db', `sqlite:${join(newDir(), 'cli.db')}`];

  it('--forward-url with a scheme other than http(s): user:password and ?token= hidden, host shown', async () => {
    const result = await runCli(
      ['serve', ...sqlite(), '--forward-url', 'ftp://user:SECRET-PW-1@files.example.com/in?token=SECRET-TOK-1&team=7'],
      { env: CLEAN_ENV, timeoutMs: 20_000 },
    );
    refusedWithout(
      result,
      ['SECRET-PW-1', 'SECRET-TOK-1'],
      ['must be http(s)', 'ftp://***@files.example.com/in?token=***&team=7'],
    );
  });

  it('--forward-url that does not parse, with @ and / inside an unencoded password', async () => {
    const result = await runCli(['serve', ...sqlite(), '--forward-url', 'http://user:SECRET/PW@2@exa%mple.com/in'], {
      env: CLEAN_ENV,
      timeoutMs: 20_000,
    });
    refusedWithout(result, ['SECRET', 'PW@2'], ['is not a valid URL', 'exa%mple.com/in']);
  });

  it('the same --forward-url twice ("configured twice"), with different passwords and tokens', async () => {
    const result = await runCli(
      [
        'serve',
        ...sqlite(),
        '--forward-url',
        'https://u:SECRET-PW-3@hooks.example.com/docv?token=SECRET-TOK-3',
        '--forward-url',
        'https://u:SECRET-PW-4@hooks.example.com/docv?token=SECRET-TOK-4',
      ],
      { env: CLEAN_ENV, timeoutMs: 20_000 },
    );
    refusedWithout(
      result,
      ['SECRET-PW-3', 'SECRET-PW-4', 'SECRET-TOK-3', 'SECRET-TOK-4'],
      ['configured twice', 'hooks.example.com/docv'],
    );
  });

  it('SOCURE_BASE_URL that is not http(s): user:password and ?api_key= hidden, host shown', async () => {
    const result = await runCli(['serve', ...sqlite()], {
      env: {
        ...CLEAN_ENV,
        SOCURE_BASE_URL: 'ftp://user:SECRET-PW-5@socure.example.com/?api_key=SECRET-KEY-5',
        SOCURE_API_KEY: 'an-api-key',
      },
      timeoutMs: 20_000,
    });
    refusedWithout(
      result,
      ['SECRET-PW-5', 'SECRET-KEY-5'],
      ['SOCURE_BASE_URL', 'ftp://***@socure.example.com/?api_key=***'],
    );
  });

  it("the sandbox's --default-webhook-url that commander rejects: its error quotes the URL without credentials", async () => {
    const result = await runCli(
      [
        'sandbox',
        '--port',
        '0',
        '--api-key',
        'dev',
        '--default-webhook-url',
        'ftp://user:SECRET-PW-6@receiver.example.com/hook?sig=SECRET-SIG-6',
      ],
      {
        env: CLEAN_ENV,
        timeoutMs: 20_000,
      },
    );
    const output = `${result.stdout}\n${result.stderr}`;
    expect(result.code, output).not.toBe(0);
    for (const secret of ['SECRET-PW-6', 'SECRET-SIG-6']) expect(output).not.toContain(secret);
    expect(result.stderr).toContain('receiver.example.com/hook');
  });

  it.each(['serve', 'worker'])(
    '%s --db postgres:// that cannot be reached: neither user:password nor ?password= in the error',
    async (command) => {
      const port = await freePort();
      const db = `postgres://docv:SECRET-PW-7@127.0.0.1:${port}/docv?password=SECRET-PW-8&sslpassword=SECRET-PW-9&connect_timeout=2`;
      const args =
        command === 'worker'
          ? ['worker', '--db', db, '--forward-url', 'http://127.0.0.1:9/hook']
          : ['serve', '--port', '0', '--db', db];
      const result = await runCli(args, { env: CLEAN_ENV, timeoutMs: 30_000 });
      refusedWithout(
        result,
        ['SECRET-PW-7', 'SECRET-PW-8', 'SECRET-PW-9'],
        [`127.0.0.1:${port}/docv`, 'password=***', 'ECONNREFUSED'],
      );
    },
  );
});

describe.each(backends.filter((b) => b.name === 'postgres'))('the serve banner on PostgreSQL ($name)', (backend) => {
  if (skipUnavailable(backend)) return;

  it('names the database without its password parameters (nor the URL password, if the test server needs one)', async () => {
    const database = await backend.create();
    databases.push(database);
    const url = new URL(database.url);
    // Parameters pg ignores here: the receiver connects as the suite's URL says, whatever the auth.
    url.searchParams.set('sslpassword', 'SECRET-PW-10');
    url.searchParams.set('api_key', 'SECRET-KEY-10');
    const secrets = ['SECRET-PW-10', 'SECRET-KEY-10', ...(url.password ? [url.password] : [])];
    const proc = spawnCli(['serve', '--port', '0', '--db', url.toString(), '--no-dispatch'], { env: CLEAN_ENV });
    try {
      const [line] = await proc.waitForStdout(/receiver is listening \(store: postgres [^\n]*\)/, 20_000);
      expect(line).toContain(`${url.host}${url.pathname}`);
      expect(line).toContain('sslpassword=***');
    } finally {
      proc.child.kill('SIGTERM');
    }
    const result = await proc.exited(15_000);
    for (const secret of secrets) expect(`${result.stdout}\n${result.stderr}`).not.toContain(secret);
  });
});

describe.each(backends)('destinations are listed without the secrets of their URLs ($name)', (backend) => {
  if (skipUnavailable(backend)) return;

  it('GET/POST /v1/destinations, enable/disable, `destinations list` and the logs show ***; deliveries still use the whole URL', async () => {
    const sink = await startSink();
    const log = memoryLogger('debug');
    const database = await backend.create();
    databases.push(database);
    const flagged = `${sink.url.replace('http://', 'http://hook-user:SECRET-PW-11@')}/flagged?token=SECRET-TOK-11&team=7`;
    const r = await startTestReceiver({ database, logger: log.logger, dispatch: { forwardUrls: [flagged] } });
    const secrets = ['SECRET-PW-11', 'SECRET-TOK-11', 'SECRET-SIG-12'];
    try {
      const listed = await r.admin('/v1/destinations');
      expect(listed.status).toBe(200);
      const flaggedRow = listed.json.items.find((d: { name: string }) => d.name.endsWith('/flagged'));
      expect(flaggedRow.url).toBe(`${sink.url}/flagged?token=***&team=7`);

      const added = await r.admin('/v1/destinations', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url: `${sink.url}/added?sig=SECRET-SIG-12` }),
      });
      expect(added.status).toBe(201);
      expect(added.json.url).toBe(`${sink.url}/added?sig=***`);
      const name = encodeURIComponent(added.json.name as string);
      const disabled = await r.admin(`/v1/destinations/${name}/disable`, { method: 'POST' });
      const enabled = await r.admin(`/v1/destinations/${name}/enable`, { method: 'POST' });
      expect([disabled.json.url, enabled.json.url]).toEqual([`${sink.url}/added?sig=***`, `${sink.url}/added?sig=***`]);
      const everything = JSON.stringify([
        (await r.admin('/v1/destinations')).json,
        added.json,
        disabled.json,
        enabled.json,
      ]);
      for (const secret of secrets) expect(everything).not.toContain(secret);

      // What is shown is redacted; what is delivered to is not.
      expect((await r.deliver(docvEvent())).status).toBe(200);
      await waitFor(() => sink.requests.length >= 2, 'both forwards', 15_000);
      expect(sink.requests.map((q) => q.url).sort()).toEqual([
        '/added?sig=SECRET-SIG-12',
        '/flagged?token=SECRET-TOK-11&team=7',
      ]);
    } finally {
      await r.close();
      await sink.close();
    }
    for (const secret of secrets) expect(log.text()).not.toContain(secret);

    // The CLI reads the same store afterwards, in a fresh process.
    for (const args of [
      ['destinations', 'list'],
      ['destinations', 'list', '--json'],
    ]) {
      const result = await runCli([...args, '--db', database.url], { env: CLEAN_ENV, timeoutMs: 20_000 });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain('token=***');
      for (const secret of secrets) expect(`${result.stdout}\n${result.stderr}`).not.toContain(secret);
    }
    const add = await runCli(
      ['destinations', 'add', 'http://127.0.0.1:9/cli?access_token=SECRET-TOK-13', '--json', '--db', database.url],
      { env: CLEAN_ENV, timeoutMs: 20_000 },
    );
    expect(add.code, add.stderr).toBe(0);
    expect(JSON.parse(add.stdout).destination.url).toBe('http://127.0.0.1:9/cli?access_token=***');
  });
});

describe('SOCURE_BASE_URL with user:password', () => {
  // fetch refuses such a URL ("Request cannot be constructed from a URL that includes
  // credentials"): every decision fetch would fail later, one by one. Refused at start instead.
  it('is refused at start-up, naming the variable and not the password (fresh process)', async () => {
    const result = await runCli(['serve', '--port', '0', '--db', `sqlite:${join(newDir(), 'cli.db')}`], {
      env: {
        ...CLEAN_ENV,
        SOCURE_BASE_URL: 'https://socure-user:SECRET-PW-14@socure.example.com/?api_key=SECRET-KEY-14',
        SOCURE_API_KEY: 'an-api-key',
      },
      timeoutMs: 20_000,
    });
    refusedWithout(
      result,
      ['SECRET-PW-14', 'SECRET-KEY-14'],
      ['SOCURE_BASE_URL', 'carries user:password', 'https://***@socure.example.com/'],
    );
  });
});

describe.each(backends)('credential headers are neither stored nor shown ($name)', (backend) => {
  if (skipUnavailable(backend)) return;

  const CREDENTIAL_HEADERS = {
    'x-auth-token': 'SECRET-HDR-1',
    'api-key': 'SECRET-HDR-2',
    'x-session-id': 'SECRET-HDR-3',
    cookie: 'sid=SECRET-HDR-4',
    'x-forwarded-client': 'Bearer SECRET-HDR-5',
  };
  const HARMLESS = {
    'x-request-id': 'req-kept-1',
    'user-agent': 'Socure-Webhooks/1.0',
    'x-forwarded-for': '203.0.113.7',
  };

  it('a signed delivery and an authenticated but invalid one: /v1/events/{id}, /v1/quarantine and the rows keep only the harmless headers', async () => {
    const shared = newSharedSecret('hdr');
    const signing = newSigningSecret();
    const r = await startTestReceiver({
      database: await backend.create(),
      webhookSecrets: [shared],
      signingSecrets: [signing],
    });
    try {
      const deliver = (body: string) => {
        const signature = signatureHeaders(signing, body);
        return {
          signature,
          sent: post(r.webhookUrl, body, {
            ...JSON_CT,
            authorization: `Bearer ${shared}`,
            ...signature,
            ...CREDENTIAL_HEADERS,
            ...HARMLESS,
          }),
        };
      };
      const accepted = deliver(eventJson());
      const res = await accepted.sent;
      expect(res.status, res.text).toBe(200);
      const event = await get(`${r.url}/v1/events/${encodeURIComponent(res.json.eventId as string)}`);
      expect(event.status).toBe(200);

      const invalid = deliver(
        JSON.stringify({ eventType: 'APP_OPENED', docvTransactionId: '', eventTime: 'yesterday' }),
      );
      expect((await invalid.sent).status).toBe(422);
      const quarantine = await get(`${r.url}/v1/quarantine`);
      expect(quarantine.json.items).toHaveLength(1);

      for (const [headers, signature] of [
        [event.json.headers, accepted.signature],
        [quarantine.json.items[0].headers, invalid.signature],
      ] as const) {
        expect(headers).toEqual({
          ...JSON_CT,
          ...HARMLESS,
          'webhook-id': signature['webhook-id'],
          'webhook-timestamp': signature['webhook-timestamp'],
          host: expect.any(String),
          'content-length': expect.any(String),
          connection: expect.any(String),
        });
      }
      const stored = JSON.stringify([
        event.json,
        quarantine.json,
        await r.database.rows('SELECT headers FROM events'),
        await r.database.rows('SELECT headers FROM quarantine'),
      ]);
      for (const secret of [
        shared,
        ...Object.values(CREDENTIAL_HEADERS),
        accepted.signature['webhook-signature']!,
        invalid.signature['webhook-signature']!,
      ]) {
        expect(stored).not.toContain(secret.replace(/^(sid=|Bearer )/, ''));
      }

      // A row an older version stored with a credential header in it is not shown either.
      const old = JSON.stringify({ 'x-auth-token': 'OLD-SECRET', 'x-request-id': 'old-kept' });
      await r.database.write('UPDATE events SET headers = ?', old);
      await r.database.write('UPDATE quarantine SET headers = ?', old);
      expect((await get(`${r.url}/v1/events/${encodeURIComponent(res.json.eventId as string)}`)).json.headers).toEqual({
        'x-request-id': 'old-kept',
      });
      expect((await get(`${r.url}/v1/quarantine`)).json.items[0].headers).toEqual({ 'x-request-id': 'old-kept' });
    } finally {
      await r.destroy();
    }
  });
});
