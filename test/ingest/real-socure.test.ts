import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipUnavailable, testBackends } from '../helpers/backends.js';
import { runCli } from '../helpers/cli.js';
import { startTestReceiver, tempDir, type TestReceiver } from '../helpers/receiver.js';

const backends = await testBackends();
const SECRET = 'socure-webhook-secret-0123456789';
const AUTH = { authorization: SECRET };
const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

let serial = 0;
function unique(prefix: string): string {
  serial += 1;
  return `${prefix}-${process.pid}-${serial}-${Math.random().toString(36).slice(2, 8)}`;
}

/** A v5 DocvNotification for one transaction, as Socure's v5 senders shape it. */
function v5(
  tx: string,
  eventType: string,
  created: string,
  data?: Record<string, unknown>,
  extra: Record<string, unknown> = {},
) {
  return {
    id: unique('notif'),
    origId: tx,
    eventGroup: 'DocvNotification',
    reason: eventType,
    environmentName: 'Production',
    event: {
      eventType,
      created,
      message: eventType,
      referenceId: unique('ref'),
      docvTransactionToken: tx,
      customerUserId: 121212,
      ...(data ? { data } : {}),
    },
    ...extra,
  };
}

const PII = {
  firstName: 'Grace',
  surName: 'Hopper',
  dob: '1906-12-09',
  documentNumber: 'S1234567',
  address: '1 Navy Way',
};

function completion(tx: string, value: string, created = '2026-12-06T10:01:00.000Z') {
  return v5(tx, 'VERIFICATION_COMPLETED', created, {
    referenceId: 'ref-data',
    documentVerification: {
      reasonCodes: ['I831', 'R810'],
      documentType: { type: 'Drivers License', country: 'USA', state: 'MD' },
      decision: { name: 'lenient', value },
      documentData: PII,
    },
  });
}

describe.each(backends)('real Socure deliveries end to end ($name)', (backend) => {
  if (skipUnavailable(backend)) return;
  let r: TestReceiver;
  const dir = tempDir();
  beforeAll(async () => {
    r = await startTestReceiver({ dir, database: await backend.create(), webhookSecrets: [SECRET] });
  });
  afterAll(async () => r.destroy());

  it('accepts every fixture of every dialect (never a 422 for a shape Socure sends)', async () => {
    const seen: Record<string, number> = {};
    for (const dialect of ['asyncapi', 'socure-v5', 'riskos']) {
      for (const file of readdirSync(join(FIXTURES, dialect)).filter((f) => f.endsWith('.json'))) {
        const body = readFileSync(join(FIXTURES, dialect, file), 'utf8');
        const res = await r.deliver(body, AUTH);
        expect(res.status, `${dialect}/${file}: ${JSON.stringify(res.json)}`).toBe(200);
        seen[dialect] = (seen[dialect] ?? 0) + 1;
      }
    }
    expect(seen.asyncapi).toBeGreaterThanOrEqual(4);
    expect(seen['socure-v5']).toBeGreaterThanOrEqual(14);
    expect(seen.riskos).toBeGreaterThanOrEqual(4);
  });

  it('a v5 stream folds into one transaction: status, decision of record, reason codes, environment', async () => {
    const tx = unique('v5');
    const stream = [
      v5(tx, 'WAITING_FOR_USER_TO_REDIRECT', '2026-12-06T10:00:00.000Z'),
      v5(tx, 'APP_OPENED', '2026-12-06T10:00:10.000Z'),
      v5(tx, 'DOCUMENT_FRONT_UPLOADED', '2026-12-06T10:00:20.000Z'),
      v5(tx, 'DOCUMENTS_UPLOADED', '2026-12-06T10:00:50.000Z', { uuid: 'u-1', referenceId: 'r-1' }),
      // SESSION_COMPLETE 25 ms before the completion, arriving first.
      v5(tx, 'SESSION_COMPLETE', '2026-12-06T10:00:59.975Z'),
      completion(tx, 'review'),
    ];
    for (const body of stream) expect((await r.deliver(body, AUTH)).status).toBe(200);
    const view = await r.admin(`/v1/transactions/${tx}`);
    expect(view.json).toMatchObject({
      status: 'VERIFICATION_COMPLETED',
      decision: 'review',
      decisionSource: 'event',
      customerUserId: '121212',
      environment: 'Production',
      eventCount: 6,
      anomalies: [],
    });
    const events = await r.admin(`/v1/events?docvTransactionId=${tx}`);
    expect(events.json.items.every((e: { dialect: string }) => e.dialect === 'socure-v5')).toBe(true);
  });

  it('removes document data before storing: raw body, payload and event carry a marker, never the PII', async () => {
    const tx = unique('pii');
    const res = await r.deliver(completion(tx, 'accept'), AUTH);
    const stored = await r.admin(`/v1/events/${res.json.eventId}`);
    expect(stored.json.rawBody).not.toContain('Hopper');
    expect(JSON.stringify(stored.json)).not.toContain('S1234567');
    expect(stored.json.payload.event.data.documentVerification.documentData).toMatch(/removed/);
    expect(stored.json.payload.event.data.documentVerification.reasonCodes).toEqual(['I831', 'R810']);
    expect(stored.json.event).toMatchObject({
      documentDataRemoved: true,
      decision: 'accept',
      decisionName: 'lenient',
      reasonCodes: ['I831', 'R810'],
    });
    const rows = await r.database.rows<{ raw_body: Buffer }>(
      'SELECT raw_body FROM events WHERE event_id = ?',
      res.json.eventId,
    );
    expect(rows[0]!.raw_body.toString('utf8')).not.toContain('Grace');
  });

  it('deduplicates on the envelope id: a retry is a duplicate, the same id with another body is a 409 kept in quarantine', async () => {
    const tx = unique('dup');
    const body = v5(tx, 'APP_OPENED', '2026-12-06T10:00:10.000Z');
    const first = await r.deliver(body, AUTH);
    const again = await r.deliver(JSON.stringify(body, null, 2), AUTH);
    expect(again.json).toEqual({ status: 'duplicate', eventId: first.json.eventId });
    const changed = await r.deliver({ ...body, event: { ...body.event, message: 'different' } }, AUTH);
    expect(changed.status).toBe(409);
    const q = await r.admin('/v1/quarantine?reason=conflict');
    expect(q.json.items.some((e: { body: string }) => e.body.includes(tx))).toBe(true);
  });

  it("Socure's TEST_WEBHOOK: 200, stored and listed as a test, no transaction", async () => {
    const ref = unique('test-ref');
    const res = await r.deliver(
      {
        id: unique('t'),
        eventGroup: 'DocvNotification',
        environmentName: 'Sandbox',
        event: {
          eventType: 'TEST_WEBHOOK',
          created: '2026-12-06T10:00:00.000Z',
          customerUserId: 'c-1',
          referenceId: ref,
          data: { documentData: PII },
        },
      },
      AUTH,
    );
    expect(res.status).toBe(200);
    const tests = await r.admin('/v1/events?test=true');
    const listed = tests.json.items.find((e: { eventId: string }) => e.eventId === res.json.eventId);
    expect(listed).toMatchObject({
      eventType: 'TEST_WEBHOOK',
      test: true,
      docvTransactionId: null,
      dialect: 'socure-v5',
    });
    expect(
      (await r.admin('/v1/events?test=false')).json.items.some(
        (e: { eventId: string }) => e.eventId === res.json.eventId,
      ),
    ).toBe(false);
  });

  it('an event type nobody knows yet: accepted, in the timeline, the status unmoved', async () => {
    const tx = unique('unknown');
    await r.deliver(v5(tx, 'APP_OPENED', '2026-12-06T10:00:10.000Z'), AUTH);
    const res = await r.deliver(v5(tx, 'DOCUMENT_HOLOGRAM_CHECKED', '2026-12-06T10:00:30.000Z'), AUTH);
    expect(res.status).toBe(200);
    const view = await r.admin(`/v1/transactions/${tx}`);
    expect(view.json.status).toBe('APP_OPENED');
    expect(view.json.events.map((e: { eventType: string }) => e.eventType)).toEqual([
      'APP_OPENED',
      'DOCUMENT_HOLOGRAM_CHECKED',
    ]);
    // Senders spell event types: metrics count unknown ones as `other`, so series stay bounded.
    const metrics = await (await fetch(`${r.url}/metrics`)).text();
    expect(metrics).toMatch(/docv_events_stored_total\{event_type="other",source="default"\} [1-9]/);
    expect(metrics).not.toContain('DOCUMENT_HOLOGRAM_CHECKED');
  });

  it('the bare {"event":{…}} body without created: accepted once, its retry a duplicate', async () => {
    const tx = unique('bare');
    const body = { event: { eventType: 'DOCUMENTS_UPLOADED', docvTransactionToken: tx } };
    const first = await r.deliver(body, AUTH);
    expect(first.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect((await r.deliver(body, AUTH)).json).toEqual({ status: 'duplicate', eventId: first.json.eventId });
    const events = await r.admin(`/v1/events?docvTransactionId=${tx}`);
    expect(events.json.items[0]).toMatchObject({ eventTimeSource: 'receipt' });
  });

  it('RiskOS: a note known only by its evaluation joins the transaction once the token is known, in either order', async () => {
    const tx = unique('riskos');
    const evalId = unique('eval');
    const note = (text: string, at: string) => ({
      event_id: unique('e'),
      event_at: at,
      event_type: 'case_notes_added',
      data: { eval_id: evalId, id: 'app-1', notes: text, reviewer_id: 'Webhook' },
    });
    expect((await r.deliver(note('Capture App Opened', '2026-12-06T10:00:10Z'), AUTH)).status).toBe(200);
    const done = await r.deliver(
      {
        event_id: unique('e'),
        event_at: '2026-12-06T10:02:00Z',
        event_type: 'evaluation_completed',
        data: {
          eval_id: evalId,
          id: 'app-1',
          decision: 'REJECT',
          eval_status: 'evaluation_completed',
          data_enrichments: [
            { enrichment_name: 'Socure Document Request', response: { data: { docvTransactionToken: tx } } },
          ],
        },
      },
      AUTH,
    );
    expect(done.status).toBe(200);
    expect((await r.deliver(note('Documents Uploaded', '2026-12-06T10:01:00Z'), AUTH)).status).toBe(200);
    const view = await r.admin(`/v1/transactions/${tx}`);
    expect(view.json).toMatchObject({
      status: 'evaluation_completed',
      decision: 'reject',
      evaluationId: evalId,
      eventCount: 3,
    });
    const byEval = await r.admin(`/v1/events?evaluationId=${evalId}`);
    expect(byEval.json.items).toHaveLength(3);
    expect(byEval.json.items.every((e: { docvTransactionId: string }) => e.docvTransactionId === tx)).toBe(true);
  });

  it('422: a flat event that breaks the contract lists every violation; a body that fits nothing names the closest dialect', async () => {
    const flat = await r.deliver({ eventType: 'SESSION_COMPLETE', docvTransactionId: '', eventTime: 'now' }, AUTH);
    expect(flat.status).toBe(422);
    expect(flat.json).toMatchObject({ dialect: 'asyncapi' });
    expect(flat.json.errors.map((e: { path: string }) => e.path).sort()).toEqual([
      '/docvTransactionId',
      '/eventTime',
      '/eventType',
    ]);
    const none = await r.deliver({ origId: 'x', environmentName: 'Sandbox' }, AUTH);
    expect(none.status).toBe(422);
    expect(none.json).toMatchObject({ dialect: 'socure-v5', errors: [{ path: '/event', message: 'is required' }] });
    expect(none.json.detail).toMatch(/fits no dialect; it is closest to Socure's v5/);
  });
});

describe.each(backends)('quarantine reprocessing after a --dialect change ($name)', (backend) => {
  if (skipUnavailable(backend)) return;
  const dir = tempDir();
  let pinned: TestReceiver;
  let open: TestReceiver | null = null;
  afterAll(async () => {
    await open?.destroy();
  });

  it('a v5 delivery refused by a receiver pinned to the flat contract is kept without PII, then accepted by reprocessing', async () => {
    const database = await backend.create();
    pinned = await startTestReceiver({ dir, database, webhookSecrets: [SECRET], dialect: 'asyncapi' });
    const tx = unique('pinned');
    const refused = await pinned.deliver(completion(tx, 'accept'), { ...AUTH, 'x-trace': 't-1' });
    expect(refused.status).toBe(422);
    expect(refused.json.detail).toMatch(/the dialect this receiver is pinned to/);
    const other = await pinned.deliver(v5(unique('pinned-b'), 'APP_OPENED', '2026-12-06T10:00:00.000Z'), AUTH);
    expect(other.status).toBe(422);
    const quarantined = await pinned.admin('/v1/quarantine?status=422');
    expect(quarantined.json.items).toHaveLength(2);
    const row = quarantined.json.items.find((q: { body: string }) => q.body.includes(tx));
    expect(row).toMatchObject({ reason: 'invalid', status: 422, dialect: 'asyncapi', reprocessed: null });
    expect(row.detail.errors.length).toBeGreaterThan(0);
    expect(row.body).not.toContain('Hopper');
    await pinned.close();

    // The same database, now reading every dialect.
    open = await startTestReceiver({ dir, database, webhookSecrets: [SECRET] });
    const one = await open.admin(`/v1/quarantine/${row.quarantineId}/reprocess`, { method: 'POST' });
    expect(one.json).toMatchObject({
      quarantineId: row.quarantineId,
      outcome: 'accepted',
      status: 200,
      eventId: expect.stringMatching(/^evt_/),
    });
    const event = await open.admin(`/v1/events/${one.json.eventId}`);
    expect(event.json.receivedAt).toBe(row.receivedAt);
    expect(event.json.headers['x-trace']).toBe('t-1');
    expect((await open.admin(`/v1/transactions/${tx}`)).json).toMatchObject({
      status: 'VERIFICATION_COMPLETED',
      decision: 'accept',
    });
    // Again: deduplicated as usual.
    const twice = await open.admin(`/v1/quarantine/${row.quarantineId}/reprocess`, { method: 'POST' });
    expect(twice.json).toMatchObject({ outcome: 'duplicate', eventId: one.json.eventId });
    expect((await open.admin(`/v1/quarantine/${row.quarantineId}`)).json.reprocessed).toMatchObject({
      outcome: 'duplicate',
      status: 200,
    });

    // Bulk, with a filter: only the row never reprocessed.
    const bulk = await open.admin('/v1/quarantine/reprocess', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reprocessed: false, status: 422 }),
    });
    expect(bulk.json).toMatchObject({ processed: 1, accepted: 1, stillRejected: 0 });
    expect((await open.admin('/v1/quarantine?reprocessed=false')).json.items).toHaveLength(0);
    expect((await open.admin('/v1/quarantine/qrn_nope/reprocess', { method: 'POST' })).status).toBe(404);
    expect(
      (
        await open.admin('/v1/quarantine/reprocess', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ from: 'yesterday' }),
        })
      ).status,
    ).toBe(400);
  });

  it('the CLI lists the quarantine from the database and reprocesses through the running receiver, in fresh processes', async () => {
    expect(open).not.toBeNull();
    const db = open!.database.url;
    const refused = await open!.deliver(
      { eventType: 'APP_OPENED', docvTransactionId: 'cli-tx', eventTime: 'whenever' },
      AUTH,
    );
    expect(refused.status).toBe(422);
    const list = await runCli(['quarantine', 'list', '--db', db, '--no-reprocessed', '--json']);
    expect(list.code, list.stderr).toBe(0);
    const items = JSON.parse(list.stdout).items as Array<{ quarantineId: string; body: string }>;
    const row = items.find((q) => q.body.includes('cli-tx'))!;
    expect(row).toBeDefined();
    const table = await runCli(['quarantine', 'list', '--db', db]);
    expect(table.stdout).toMatch(/quarantineId\s+source\s+receivedAt\s+status\s+reason/);
    expect(table.stdout).toContain(row.quarantineId);
    const rerun = await runCli(['quarantine', 'reprocess', row.quarantineId, '--url', open!.url]);
    // Still invalid under every dialect: exit 1, and it says why.
    expect(rerun.code).toBe(1);
    expect(rerun.stdout).toContain(`${row.quarantineId}  invalid 422`);
    expect(rerun.stdout).toMatch(/RFC 3339/);
    const nothing = await runCli(['quarantine', 'reprocess', '--url', open!.url]);
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toMatch(/name the rows to reprocess/);
    const unreachable = await runCli(['quarantine', 'reprocess', '--all', '--url', 'http://127.0.0.1:9']);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/cannot reach the receiver/);
  });
});
