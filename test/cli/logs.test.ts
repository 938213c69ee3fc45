import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, killLiveCliProcesses, spawnCli, type CliResult } from '../helpers/cli.js';
import { startSink, type HttpSink } from '../helpers/http-sink.js';
import { tempDir } from '../helpers/receiver.js';

/**
 * What an operator reads: `serve` and `worker` as installed users run them (the built CLI), their
 * stdout as it comes out. One line per delivery in both formats; a refusal says why; stopping a
 * process is logged.
 */
const SECRET = 'logs-webhook-secret-0123456789';
/** Sent in bodies that are refused: it must show up in no log line. */
const MARKER = 'body-marker-9f3e1c';

let sink: HttpSink;
beforeAll(async () => {
  sink = await startSink();
});
afterAll(async () => {
  killLiveCliProcesses();
  await sink.close();
});

interface Sent {
  status: number;
  eventId?: string;
}

/** One delivery of each kind the log line has to tell apart; returns what each was answered. */
async function deliverEachKind(webhookUrl: string, tx: string): Promise<Record<string, Sent>> {
  const post = async (body: string, headers: Record<string, string> = {}): Promise<Sent> => {
    const res = await fetch(webhookUrl, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', authorization: SECRET, ...headers },
    });
    const json = (await res.json()) as { eventId?: string };
    return { status: res.status, ...(json.eventId ? { eventId: json.eventId } : {}) };
  };
  const event = JSON.stringify({ eventType: 'APP_OPENED', docvTransactionId: tx, eventTime: '2026-03-01T10:00:00Z' });
  return {
    accepted: await post(event, { 'webhook-id': `${tx}-1` }),
    duplicate: await post(event, { 'webhook-id': `${tx}-1` }),
    conflict: await post(
      JSON.stringify({ eventType: 'APP_OPENED', docvTransactionId: `${tx}-other`, eventTime: '2026-03-01T10:00:00Z' }),
      { 'webhook-id': `${tx}-1` },
    ),
    unauthorized: await post(event, { authorization: 'not-the-secret' }),
    invalid: await post(JSON.stringify({ eventType: 'APP_OPENED', docvTransactionId: tx, eventTime: MARKER })),
    badJson: await post(`{"eventType": "APP_OPENED", "note": "${MARKER}"`),
    mediaType: await post(event, { 'content-type': 'text/plain' }),
  };
}

/**
 * What stdout holds from the first delivery's log line on. The deliveries are sent once the
 * banner is out, so nothing after that line is anything but log output.
 */
function linesFromFirstDelivery(stdout: string, firstDelivery: RegExp): string[] {
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  const first = lines.findIndex((l) => firstDelivery.test(l));
  expect(first, stdout).toBeGreaterThanOrEqual(0);
  return lines.slice(first);
}

async function runServe(
  dir: string,
  logFormat: 'pretty' | 'json',
  tx: string,
): Promise<{ sent: Record<string, Sent>; result: CliResult }> {
  const port = await freePort();
  const serve = spawnCli(
    [
      'serve',
      '--port',
      String(port),
      '--db',
      join(dir, `${logFormat}.db`),
      '--webhook-secret',
      SECRET,
      '--forward-url',
      `${sink.url}/docv`,
    ],
    {
      env: { LOG_FORMAT: logFormat },
    },
  );
  const [, webhookUrl] = (await serve.waitForStdout(/POST DocV events to\s+(http:\/\/\S+)/))!;
  const sent = await deliverEachKind(webhookUrl!, tx);
  serve.child.kill('SIGTERM');
  const result = await serve.exited(15_000);
  expect(result.code, result.stderr).toBe(0);
  expect(result.stdout + result.stderr).not.toContain(SECRET);
  expect(result.stdout + result.stderr).not.toContain(MARKER);
  return { sent, result };
}

describe('logs', () => {
  const dir = tempDir('docv-logs-');

  it('pretty (LOG_FORMAT=pretty): each delivery on one line with outcome, status, latency, type, eventId and why; shutdown said', async () => {
    const { sent, result } = await runServe(dir, 'pretty', 'logs-pretty');
    expect(Object.values(sent).map((s) => s.status)).toEqual([200, 200, 409, 401, 422, 400, 415]);
    const lines = linesFromFirstDelivery(result.stdout, /: delivery accepted /);
    // Every line is an entry of its own: none spills its fields onto lines of their own.
    for (const line of lines) expect(line).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] (INFO|WARN|ERROR): /);
    const deliveries = lines.filter((l) => /^\S+ \w+: delivery /.test(l));
    expect(deliveries).toHaveLength(7);
    const [accepted, duplicate, conflict, unauthorized, invalid, badJson, mediaType] = deliveries;
    expect(accepted).toMatch(
      new RegExp(`INFO: delivery accepted 200 [\\d.]+ms APP_OPENED ${sent.accepted!.eventId} tx=logs-pretty `),
    );
    expect(duplicate).toMatch(
      new RegExp(`INFO: delivery duplicate 200 [\\d.]+ms APP_OPENED ${sent.accepted!.eventId} tx=logs-pretty `),
    );
    expect(conflict).toMatch(
      new RegExp(
        `WARN: delivery conflict 409 [\\d.]+ms ${sent.accepted!.eventId} reason: delivery id reused for a different payload `,
      ),
    );
    expect(unauthorized).toMatch(
      /WARN: delivery unauthorized 401 [\d.]+ms reason: shared-secret: the token in the Authorization header matches no configured webhook secret /,
    );
    expect(invalid).toMatch(/WARN: delivery invalid 422 [\d.]+ms reason: breaks asyncapi: 1 violation at \/eventTime /);
    expect(badJson).toMatch(/WARN: delivery bad_request 400 [\d.]+ms reason: body is not valid JSON /);
    expect(mediaType).toMatch(
      /WARN: delivery unsupported_media_type 415 [\d.]+ms reason: Content-Type "text\/plain" is not JSON; send application\/json /,
    );
    expect(lines.some((l) => /INFO: delivered delivered 200 [\d.]+ms/.test(l))).toBe(true);
    // An attempt in flight may finish between the two.
    expect(
      lines.filter((l) => /INFO: shutting down: finishing in-flight requests \{"signal":"SIGTERM"\}$/.test(l)),
    ).toHaveLength(1);
    expect(lines.at(-1)).toMatch(/INFO: stopped$/);
  });

  it('JSON (LOG_FORMAT=json, the default off a terminal): one line per delivery, a reason on every refusal', async () => {
    const { sent, result } = await runServe(dir, 'json', 'logs-json');
    const entries = linesFromFirstDelivery(result.stdout, /"msg":"delivery"/).map(
      (l) => JSON.parse(l) as Record<string, unknown>,
    );
    const deliveries = entries.filter((e) => e.msg === 'delivery');
    expect(deliveries.map((d) => [d.outcome, d.status])).toEqual([
      ['accepted', 200],
      ['duplicate', 200],
      ['conflict', 409],
      ['unauthorized', 401],
      ['invalid', 422],
      ['bad_request', 400],
      ['unsupported_media_type', 415],
    ]);
    expect(deliveries.map((d) => d.reason)).toEqual([
      undefined,
      undefined,
      'delivery id reused for a different payload',
      'shared-secret: the token in the Authorization header matches no configured webhook secret',
      'breaks asyncapi: 1 violation at /eventTime',
      'body is not valid JSON',
      'Content-Type "text/plain" is not JSON; send application/json',
    ]);
    expect(deliveries[2]!.eventId).toBe(sent.accepted!.eventId);
    expect(entries.filter((e) => e.signal !== undefined).map((e) => [e.msg, e.signal])).toEqual([
      ['shutting down: finishing in-flight requests', 'SIGTERM'],
    ]);
    expect(entries.at(-1)!.msg).toBe('stopped');
  });

  it('worker: logs that it is shutting down on SIGTERM and when it has stopped', async () => {
    const worker = spawnCli(['worker', '--db', join(dir, 'worker.db'), '--forward-url', `${sink.url}/docv`], {
      env: { LOG_FORMAT: 'json' },
    });
    await worker.waitForStdout(/delivering to forward:/);
    worker.child.kill('SIGTERM');
    const result = await worker.exited(15_000);
    expect(result.code, result.stderr).toBe(0);
    const entries = result.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.slice(-2).map((e) => [e.level, e.msg, e.signal])).toEqual([
      [30, 'shutting down: finishing in-flight attempts', 'SIGTERM'],
      [30, 'stopped', undefined],
    ]);
  });
});
