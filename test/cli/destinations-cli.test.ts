import { afterAll, describe, expect, it } from 'vitest';
import { skipUnavailable, testBackends, type TestDatabase } from '../helpers/backends.js';
import { killLiveCliProcesses, runCli, spawnCli, type CliProcess } from '../helpers/cli.js';
import { startSink, type HttpSink } from '../helpers/http-sink.js';
import { docvEvent } from '../helpers/receiver.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Issue 15, item 5, as users ran into it: `serve --no-dispatch` beside `worker --forward-url`
 * forwarded nothing, because the outbox rows were made from serve's own flags. The destinations
 * are now in the store; every command here is a fresh process of the built CLI.
 */
const backends = await testBackends();

afterAll(() => killLiveCliProcesses());

async function post(
  webhookUrl: string,
  body: unknown,
): Promise<{ status: number; json: { status: string; eventId: string } }> {
  const res = await fetch(webhookUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as { status: string; eventId: string } };
}

/** The JSON log lines a process wrote so far (pino writes them to stdout when it is not a terminal). */
function logLines(p: CliProcess): Array<{ level: number; msg: string }> {
  return p.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number; msg: string });
}

describe.concurrent.each(backends)('CLI: destinations in the store ($name)', (backend) => {
  if (skipUnavailable(backend)) return;
  const sinks: HttpSink[] = [];
  const databases: TestDatabase[] = [];
  const processes: CliProcess[] = [];
  afterAll(async () => {
    for (const p of processes) p.child.kill('SIGTERM');
    await Promise.all(processes.map((p) => p.exited(10_000).catch(() => undefined)));
    for (const s of sinks) await s.close();
    for (const d of databases) await d.drop();
  });

  it('serve --no-dispatch and worker --forward-url on one store: the event is forwarded', async () => {
    const sink = await startSink();
    sinks.push(sink);
    const database = await backend.create();
    databases.push(database);
    const serve = spawnCli(['serve', '--port', '0', '--db', database.url, '--no-dispatch', '--log-level', 'warn']);
    processes.push(serve);
    const [, webhookUrl] = await serve.waitForStdout(/POST DocV events to\s+(\S+)/, 30_000);
    const worker = spawnCli([
      'worker',
      '--db',
      database.url,
      '--forward-url',
      `${sink.url}/docv`,
      '--log-level',
      'warn',
    ]);
    processes.push(worker);
    await worker.waitForStdout(/delivering to forward:127\.0\.0\.1:\d+\/docv/, 30_000);

    const event = docvEvent({ eventType: 'VERIFICATION_COMPLETED', decision: 'accept' });
    const answer = await post(webhookUrl!, event);
    expect(answer).toMatchObject({ status: 200, json: { status: 'accepted' } });
    await waitFor(() => sink.requests.length === 1, 'the forward at the sink', 15_000);
    expect(sink.requests[0]!.url).toBe('/docv');
    expect(JSON.parse(sink.requests[0]!.body)).toMatchObject({
      eventId: answer.json.eventId,
      docvTransactionId: event.docvTransactionId,
      canonical: { decision: 'accept' },
    });

    const listed = await runCli(['destinations', 'list', '--db', database.url, '--json']);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout).items).toEqual([
      expect.objectContaining({ name: `forward:${new URL(sink.url).host}/docv`, kind: 'forward', state: 'active' }),
    ]);
  });

  it('destinations add, list, disable, enable; a worker whose flags disagree says so at start; disabling pauses', async () => {
    const mine = await startSink();
    const added = await startSink();
    sinks.push(mine, added);
    const database = await backend.create();
    databases.push(database);
    const db = database.url;
    const addedName = `forward:${new URL(added.url).host}/added`;

    const add = await runCli([
      'destinations',
      'add',
      `http://user:secret@${new URL(added.url).host}/added`,
      '--db',
      db,
    ]);
    expect(add.code).toBe(0);
    expect(add.stdout).toContain(`created ${addedName} (active)`);
    expect(add.stdout + add.stderr).not.toContain('secret');
    // Without the credentials the store does not keep, any worker can deliver it.
    const plain = await runCli(['destinations', 'add', `${added.url}/added`, '--db', db, '--json']);
    expect(JSON.parse(plain.stdout)).toMatchObject({
      outcome: 'updated',
      destination: { name: addedName, urlCredentials: false },
    });
    const bad = await runCli(['destinations', 'add', 'not a url', '--db', db]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('is not a valid URL');

    const serve = spawnCli(['serve', '--port', '0', '--db', db, '--no-dispatch', '--log-level', 'warn']);
    processes.push(serve);
    const [, webhookUrl] = await serve.waitForStdout(/POST DocV events to\s+(\S+)/, 30_000);
    const worker = spawnCli([
      'worker',
      '--db',
      db,
      '--forward-url',
      `${mine.url}/mine`,
      '--log-level',
      'info',
      '--log-format',
      'json',
    ]);
    processes.push(worker);
    await worker.waitForStdout(/delivering to /, 30_000);
    // Log lines go out in blocks, up to 200 ms after they were written.
    const warning = await waitFor(
      () => logLines(worker).find((l) => l.level === 40 && l.msg.includes(addedName)),
      'the warning about the destination its flags do not name',
    );
    expect(warning.msg).toMatch(/not named by this process's flags/);
    expect(worker.stdout).toMatch(new RegExp(`delivering to .*${addedName.replace(/[.]/g, '\\.')}`));

    const table = await runCli(['destinations', 'list', '--db', db]);
    expect(table.stdout).toMatch(/name\s+kind\s+state\s+url/);
    expect(table.stdout).toContain(`forward:${new URL(mine.url).host}/mine`);
    expect(table.stdout).toContain(addedName);

    expect((await post(webhookUrl!, docvEvent())).status).toBe(200);
    await waitFor(() => mine.requests.length === 1 && added.requests.length === 1, 'a forward at each sink', 15_000);

    const disabled = await runCli(['destinations', 'disable', addedName, '--db', db]);
    expect(disabled).toMatchObject({ code: 0 });
    expect(disabled.stdout).toContain(`${addedName} is disabled`);
    const second = await post(webhookUrl!, docvEvent());
    await waitFor(() => mine.requests.length === 2, 'the second forward to the active destination', 15_000);
    // Paused: the event waits for it, and nothing is sent until it is enabled again.
    const rows = await runCli(['deliveries', '--db', db, '--destination', addedName, '--json']);
    expect(
      JSON.parse(rows.stdout).items.map((d: { eventId: string; state: string }) => [d.eventId, d.state]),
    ).toContainEqual([second.json.eventId, 'pending']);
    expect(added.requests).toHaveLength(1);

    const enabled = await runCli(['destinations', 'enable', addedName, '--db', db, '--json']);
    expect(JSON.parse(enabled.stdout)).toMatchObject({ name: addedName, state: 'active' });
    await waitFor(() => added.requests.length === 2, 'the forward that waited', 15_000);
    expect(JSON.parse(added.requests[1]!.body).eventId).toBe(second.json.eventId);
    const unknown = await runCli(['destinations', 'disable', 'forward:nowhere/', '--db', db]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim().split('\n')).toEqual([
      'docv-webhooks: no destination "forward:nowhere/"; `docv-webhooks destinations list` shows them',
    ]);
  });
});
