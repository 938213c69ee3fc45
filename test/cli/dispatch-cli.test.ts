import { afterAll, describe, expect, it } from 'vitest';
import { skipUnavailable, testBackends, type TestDatabase } from '../helpers/backends.js';
import { killLiveCliProcesses, runCli, spawnCli } from '../helpers/cli.js';
import { docvEvent } from '../helpers/receiver.js';
import { startSink, type HttpSink } from '../helpers/http-sink.js';
import { waitFor } from '../helpers/wait.js';

const backends = await testBackends();

// After every suite: the backends run side by side, so one must not kill the other's processes.
afterAll(() => killLiveCliProcesses());

describe.concurrent.each(backends)(
  'CLI: deliveries and replay against the store a running server writes ($name)',
  (backend) => {
    if (skipUnavailable(backend)) return;
    let sink: HttpSink;
    let database: TestDatabase | undefined;
    afterAll(async () => {
      await sink?.close();
      await database?.drop();
    });

    it('lists a dead delivery, retries it, replays by filter', async () => {
      let up = false;
      sink = await startSink((_req, res) => res.writeHead(up ? 200 : 500).end());
      database = await backend.create();
      const db = database.url;
      const server = spawnCli([
        'serve',
        '--port',
        '0',
        '--db',
        db,
        '--forward-url',
        sink.url,
        '--retry-schedule',
        'none',
      ]);
      const [, webhookUrl] = await server.waitForStdout(/POST DocV events to\s+(\S+)/);
      const event = docvEvent({ eventType: 'DOCUMENTS_UPLOADED' });
      expect(
        (
          await fetch(webhookUrl!, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(event),
          })
        ).status,
      ).toBe(200);

      const dead = await waitFor(async () => {
        const r = await runCli(['deliveries', '--db', db, '--state', 'dead', '--json']);
        return r.code === 0 && JSON.parse(r.stdout).items[0];
      }, 'a dead delivery listed by the CLI');
      expect(dead).toMatchObject({ eventType: 'DOCUMENTS_UPLOADED', attempts: 1, lastStatus: 500 });

      const table = await runCli(['deliveries', '--db', db]);
      expect(table.stdout).toMatch(/deliveryId\s+destination/);
      expect(table.stdout).toContain(dead.deliveryId);

      const shown = await runCli(['deliveries', dead.deliveryId, '--db', db]);
      expect(shown.code).toBe(0);
      expect(shown.stdout).toContain('HTTP 500');
      // The attempt's duration rounded for people (3.7, not 3.710661999999502), in JSON too.
      expect(shown.stdout).toMatch(/^1 +\S+ +\d+(\.\d)? +\S/m);
      const shownJson = await runCli(['deliveries', dead.deliveryId, '--db', db, '--json']);
      expect(String(JSON.parse(shownJson.stdout).history[0].durationMs)).toMatch(/^\d+(\.\d)?$/);

      up = true;
      const retried = await runCli(['deliveries', dead.deliveryId, '--retry', '--db', db]);
      expect(retried).toMatchObject({ code: 0 });
      expect(retried.stdout).toContain('re-queued');
      await waitFor(() => sink.requests.length === 2, 'the retried forward');

      const replayed = await runCli(['replay', '--db', db, '--event-type', 'DOCUMENTS_UPLOADED', '--json']);
      expect(JSON.parse(replayed.stdout)).toEqual({ requeued: 1 });
      await waitFor(() => sink.requests.length === 3, 'the replayed forward');

      const bad = await runCli(['replay', '--db', db, '--from', 'yesterday']);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain('RFC 3339');
      const unknown = await runCli(['deliveries', 'dlv_nope', '--db', db]);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr.trim().split('\n')).toHaveLength(1);

      // Nothing left over (a timer, the forward thread) holds the stopping process open.
      const stopping = Date.now();
      server.child.kill('SIGTERM');
      expect((await server.exited()).code).toBe(0);
      expect(Date.now() - stopping).toBeLessThan(4_000);
    });
  },
);
