import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, killLiveCliProcesses, spawnCli } from '../helpers/cli.js';
import { startSink, type HttpSink } from '../helpers/http-sink.js';
import { waitFor } from '../helpers/wait.js';

/*
 * Issue 20: a configuration change picked up on SIGHUP while Socure keeps sending, with nothing
 * lost. The built CLI serves two sources from a config file; senders post to both without pause
 * while the file changes twice under them (a source added, a secret rotated in then the old one
 * retired, a destination added with a subscription and another's subscription narrowed) and
 * SIGHUP is sent each time. Deliveries to a slow sink are in flight at each reload.
 *
 * What must hold, as a user sees it: every delivery sent with credentials valid at that moment is
 * answered 200 (no 5xx, no 404 while its path is configured), every accepted event reaches the
 * forward that subscribes to it, no delivery is dead, and each destination receives only what its
 * subscription says.
 */

const ADMIN_TOKEN = 'admin-token-for-sighup-test';
const OLD_SECRET = 'sandbox-secret-old-0123456789';
const NEW_SECRET = 'sandbox-secret-new-9876543210';
const PROD_SECRET = 'prod-secret-abcdefghijklmnop';
const EU_SECRET = 'eu-secret-qrstuvwxyz012345';
/** Bounds: the load runs at most this long and sends at most this many deliveries. */
const LOAD_MS = 9_000;
const MAX_DELIVERIES = 3_000;
const SENDERS = 4;

const dir = mkdtempSync(join(tmpdir(), 'docv-sighup-'));
afterAll(() => {
  killLiveCliProcesses();
  rmSync(dir, { recursive: true, force: true });
});

interface Phase {
  sandboxSecrets: string[];
  eu: boolean;
  /** Event types the second sink subscribes to; null: it is not declared. */
  auditTypes: string[] | null;
}

function configText(all: HttpSink, audit: HttpSink, phase: Phase): string {
  const lines = [
    'sources:',
    '  - name: sandbox',
    '    path: /socure/sandbox',
    '    environment: Sandbox',
    '    auth:',
    `      webhookSecrets: [${phase.sandboxSecrets.map((s) => JSON.stringify(s)).join(', ')}]`,
    '  - name: prod',
    '    path: /socure/prod',
    '    environment: Production',
    '    auth:',
    `      webhookSecrets: [${JSON.stringify(PROD_SECRET)}]`,
  ];
  if (phase.eu)
    lines.push(
      '  - name: eu',
      '    path: /socure/eu',
      '    auth:',
      `      webhookSecrets: [${JSON.stringify(EU_SECRET)}]`,
    );
  lines.push('destinations:', `  - url: ${all.url}/all`);
  if (phase.auditTypes)
    lines.push(
      `  - url: ${audit.url}/audit`,
      '    sources: [prod, eu]',
      `    eventTypes: [${phase.auditTypes.join(', ')}]`,
    );
  return `${lines.join('\n')}\n`;
}

const TYPES = ['APP_OPENED', 'DOCUMENTS_UPLOADED', 'VERIFICATION_COMPLETED'] as const;

describe('serve --config: SIGHUP under load', () => {
  it('reloads sources, secrets and subscriptions while deliveries keep coming, losing none', async () => {
    // A slow sink, so forwards are in flight when each SIGHUP lands.
    const all = await startSink((_req, res) => setTimeout(() => res.writeHead(200).end('ok'), 15));
    const audit = await startSink();
    const file = join(dir, 'docv-webhooks.yaml');
    let phase: Phase = { sandboxSecrets: [OLD_SECRET], eu: false, auditTypes: null };
    writeFileSync(file, configText(all, audit, phase));
    const port = await freePort();
    const serve = spawnCli([
      'serve',
      '--config',
      file,
      '--db',
      `sqlite:${join(dir, 'receiver.db')}`,
      '--port',
      String(port),
      '--admin-token',
      ADMIN_TOKEN,
      '--log-level',
      'info',
    ]);
    const base = `http://127.0.0.1:${port}`;
    await waitFor(
      async () => (await fetch(`${base}/healthz`).catch(() => null))?.ok,
      'the receiver to listen',
      20_000,
      100,
    );

    // What senders use: the sandbox sender switches to the new secret once the reload that adds it is in.
    let sandboxSecret = OLD_SECRET;
    let euOn = false;
    const accepted = new Map<string, { source: string; eventType: string }>();
    const failures: string[] = [];
    let sent = 0;
    let seq = 0;
    const started = Date.now();
    let stop = false;

    async function sendOne(): Promise<void> {
      const n = seq++;
      const sources = euOn ? ['sandbox', 'prod', 'eu'] : ['sandbox', 'prod'];
      const source = sources[n % sources.length]!;
      const secret = source === 'sandbox' ? sandboxSecret : source === 'prod' ? PROD_SECRET : EU_SECRET;
      const eventType = TYPES[n % TYPES.length]!;
      // The same transaction ids under every source: each source must keep its own.
      const body = {
        eventType,
        docvTransactionId: `tx-${Math.floor(n / 9)}`,
        eventTime: new Date(Date.UTC(2026, 2, 1, 10, 0, 0, n)).toISOString(),
        ...(eventType === 'VERIFICATION_COMPLETED' ? { decision: 'accept' } : {}),
        customerUserId: `user-${n}`,
      };
      sent++;
      try {
        const res = await fetch(`${base}/socure/${source}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
          body: JSON.stringify(body),
        });
        const text = await res.text();
        if (res.status !== 200) failures.push(`${source} ${res.status} ${text.slice(0, 200)}`);
        else accepted.set((JSON.parse(text) as { eventId: string }).eventId, { source, eventType });
      } catch (err) {
        failures.push(`${source} ${(err as Error).message}`);
      }
    }

    const senders = Array.from({ length: SENDERS }, async () => {
      while (!stop && sent < MAX_DELIVERIES && Date.now() - started < LOAD_MS) await sendOne();
    });

    const acceptedAt = async (count: number) =>
      waitFor(() => accepted.size >= count, `${count} deliveries accepted`, 10_000);
    const reload = async (next: Phase, check: () => Promise<boolean>, what: string) => {
      phase = next;
      writeFileSync(file, configText(all, audit, phase));
      serve.child.kill('SIGHUP');
      await waitFor(check, what, 10_000, 25);
    };

    // Reload 1, under load: eu added, the sandbox's new secret beside the old one, an audit forward subscribed to prod and eu completions.
    await acceptedAt(150);
    const probe = async (path: string, secret: string) =>
      (
        await fetch(`${base}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
          body: '{',
        })
      ).status;
    await reload(
      { sandboxSecrets: [OLD_SECRET, NEW_SECRET], eu: true, auditTypes: ['VERIFICATION_COMPLETED'] },
      // eu answers once the new sources are in (one swap), and only then is the new secret tried:
      // every 401 counts against this address in the failure limiter, which the senders share.
      async () =>
        (await probe('/socure/eu', EU_SECRET)) === 400 && (await probe('/socure/sandbox', NEW_SECRET)) === 400,
      'the first reload (eu answering, the new sandbox secret taken)',
    );
    euOn = true;
    sandboxSecret = NEW_SECRET;
    const afterFirst = accepted.size;

    // Reload 2, under load: the old sandbox secret retired, the audit forward now also takes uploads.
    await acceptedAt(afterFirst + 150);
    await reload(
      { sandboxSecrets: [NEW_SECRET], eu: true, auditTypes: ['VERIFICATION_COMPLETED', 'DOCUMENTS_UPLOADED'] },
      async () => (await probe('/socure/sandbox', OLD_SECRET)) === 401,
      'the second reload (the old sandbox secret refused)',
    );
    const reloadedAt = Date.now();
    await acceptedAt(accepted.size + 150);
    stop = true;
    await Promise.all(senders);

    expect(failures).toEqual([]);
    expect(accepted.size).toBeGreaterThan(450);
    expect(new Set([...accepted.values()].map((e) => e.source))).toEqual(new Set(['sandbox', 'prod', 'eu']));

    // Every accepted event reaches the forward that takes everything, each under its source.
    const forwardedIds = () => new Set(all.requests.map((r) => (JSON.parse(r.body) as { eventId: string }).eventId));
    await waitFor(
      () => [...accepted.keys()].every((id) => forwardedIds().has(id)),
      'every accepted event forwarded',
      60_000,
      200,
    );
    for (const r of all.requests) {
      const body = JSON.parse(r.body) as { eventId: string; source: string };
      expect(r.headers['docv-source']).toBe(body.source);
      expect(body.source).toBe(accepted.get(body.eventId)?.source ?? body.source);
    }

    // The audit forward received only what its subscription said at the time: prod or eu, completions, and uploads only after the second reload.
    await waitFor(() => audit.requests.length > 0, 'the audit forward to receive something', 30_000, 100);
    for (const r of audit.requests) {
      const body = JSON.parse(r.body) as { source: string; eventType: string };
      expect(['prod', 'eu']).toContain(body.source);
      expect(['VERIFICATION_COMPLETED', 'DOCUMENTS_UPLOADED']).toContain(body.eventType);
    }

    // Nothing dead, nothing waiting, and the store holds exactly what was accepted, each under its source.
    const admin = async (path: string) =>
      (await (await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as {
        items: Array<{ eventId?: string; source?: string; state?: string }>;
        nextCursor: string | null;
      };
    expect((await admin('/v1/deliveries?state=dead&limit=10')).items).toEqual([]);
    const sample = [...accepted.entries()].slice(-20);
    for (const [eventId, { source }] of sample) {
      const event = (await (
        await fetch(`${base}/v1/events/${eventId}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
      ).json()) as { source: string };
      expect(event.source).toBe(source);
    }
    // The same transaction id under two sources is two transactions.
    const tx0 = await fetch(`${base}/v1/transactions/tx-0`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(tx0.status).toBe(409);
    const prodTx = await fetch(`${base}/v1/transactions/tx-0?source=prod`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(prodTx.status).toBe(200);
    expect(((await prodTx.json()) as { source: string }).source).toBe('prod');
    expect(reloadedAt).toBeGreaterThan(started);

    serve.child.kill('SIGTERM');
    const result = await serve.exited(20_000);
    expect(result.code).toBe(0);
    await all.close();
    await audit.close();
  }, 120_000);
});
