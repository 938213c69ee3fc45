import { afterEach, describe, expect, it } from 'vitest';
import { skipUnavailable, testBackends, type TestDatabase } from '../helpers/backends.js';
import { docvEvent } from '../helpers/receiver.js';
import { startSink, type HttpSink } from '../helpers/http-sink.js';
import { killLiveCliProcesses, spawnCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

const backends = await testBackends();

describe.each(backends)('dispatch survives a crash mid-retry ($name)', (backend) => {
  if (skipUnavailable(backend)) return;
  let sink: HttpSink;
  let database: TestDatabase | undefined;
  afterEach(async () => {
    killLiveCliProcesses();
    await sink?.close();
    await database?.drop();
    database = undefined;
  });

  it('kill -9 while a forward waits for its retry; after a restart on the same database it is delivered', async () => {
    // A crash during an attempt is covered too: its lease (2 × the 1 s timeout + 5 s) runs out.
    let up = false;
    sink = await startSink((_req, res) => res.writeHead(up ? 200 : 503).end());
    database = await backend.create();
    const db = database.url;
    const args = [
      'serve',
      '--port',
      '0',
      '--db',
      db,
      '--forward-url',
      `${sink.url}/in`,
      '--retry-schedule',
      '400ms',
      '--max-attempts',
      '20',
      '--forward-timeout',
      '1s',
    ];
    const first = spawnCli(args);
    const [, webhookUrl] = await first.waitForStdout(/POST DocV events to\s+(\S+)/);
    const event = docvEvent();
    const res = await fetch(webhookUrl!, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(event),
    });
    expect(res.status).toBe(200);
    // Mid-retry: the failed attempt is recorded and the next one is scheduled.
    const adminUrl = webhookUrl!.replace(/\/socure\/docv\/webhook$/, '');
    await waitFor(
      async () => (await (await fetch(`${adminUrl}/v1/deliveries?state=failed`)).json()).items.length === 1,
      'a recorded failed attempt',
    );
    first.child.kill('SIGKILL');
    expect((await first.exited()).signal).toBe('SIGKILL');
    const attemptsBeforeCrash = sink.requests.length;

    up = true;
    const second = spawnCli(args);
    await second.waitForStdout(/POST DocV events to/);
    await waitFor(() => sink.requests.length > attemptsBeforeCrash, 'delivery after restart', 15_000);
    const last = sink.requests.at(-1)!;
    expect(JSON.parse(last.body).event).toEqual(event);
    expect(last.headers['webhook-id']).toBe(sink.requests[0]!.headers['webhook-id']);
    second.child.kill('SIGTERM');
    expect((await second.exited()).code).toBe(0);
  });

  it("kill -9 during an attempt: the crashed worker's lease runs out and the restarted one delivers", async () => {
    let hang = true;
    sink = await startSink((_req, res) => {
      if (!hang) res.writeHead(200).end();
    });
    database = await backend.create();
    const db = database.url;
    const args = [
      'serve',
      '--port',
      '0',
      '--db',
      db,
      '--forward-url',
      sink.url,
      '--retry-schedule',
      '200ms',
      '--forward-timeout',
      '1s',
    ];
    const first = spawnCli(args);
    const [, webhookUrl] = await first.waitForStdout(/POST DocV events to\s+(\S+)/);
    await fetch(webhookUrl!, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(docvEvent()),
    });
    await waitFor(() => sink.requests.length === 1, 'the attempt in flight');
    first.child.kill('SIGKILL');
    await first.exited();
    hang = false;
    const killedAt = Date.now();
    const second = spawnCli(args);
    await second.waitForStdout(/POST DocV events to/);
    await waitFor(() => sink.requests.length === 2, 'delivery after the lease ran out', 20_000);
    // Not before the lease (2 × 1 s + 5 s) ran out: no double delivery while the first might live.
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(6_000);
    second.child.kill('SIGTERM');
    expect((await second.exited()).code).toBe(0);
  });
});
