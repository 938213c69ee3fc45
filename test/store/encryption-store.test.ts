import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type EncryptionKeys, type Store } from '../../src/store/index.js';
import { keyIdOf } from '../../src/store/encryption/keys.js';
import { SealedRowError } from '../../src/store/encryption/sealer.js';
import { EncryptionKeyMismatchError } from '../../src/store/encryption/key-check.js';
import type { RekeyPosition } from '../../src/store/encryption/rotation.js';
import { skipUnavailable, testBackends, type TestDatabase } from '../helpers/backends.js';
import { ingestInput } from '../helpers/ingest-input.js';
import { docvEvent } from '../helpers/receiver.js';

const backends = await testBackends();

const DOCUMENT_NUMBER = 'D1234-5678-SECRET';
const NAME = 'Zebulon Quixote-Marchbanks';

/** An event whose body and headers carry personal data that must not be readable at rest. */
function personalEvent(overrides: Record<string, unknown> = {}) {
  const event = docvEvent({
    eventType: 'VERIFICATION_COMPLETED',
    decision: 'accept',
    documentData: { documentNumber: DOCUMENT_NUMBER, fullName: NAME },
    ...overrides,
  });
  const input = ingestInput(event);
  input.headers = { 'content-type': 'application/json', 'x-customer-name': NAME };
  return { event, input };
}

const keyA: EncryptionKeys = { current: randomBytes(32), previous: [] };
const keyB: EncryptionKeys = { current: randomBytes(32), previous: [keyA.current!] };

/** Every stored byte of the sealed tables, as text: what a stolen file or dump would show. */
async function storedText(db: TestDatabase): Promise<string> {
  const parts: string[] = [];
  const textOf = db.backend === 'postgres' ? (t: string) => `SELECT ${t}::text AS row FROM ${t}` : null;
  for (const table of ['events', 'quarantine', 'decisions']) {
    if (textOf) {
      for (const r of await db.rows<{ row: string }>(textOf(table))) parts.push(r.row);
      // bytea shows as hex in a row's text: the bytes themselves too.
      const column = table === 'events' ? 'raw_body' : table === 'quarantine' ? 'body' : null;
      if (column)
        for (const r of await db.rows<{ b: string }>(`SELECT encode(${column}, 'escape') AS b FROM ${table}`))
          parts.push(r.b);
    } else {
      for (const r of await db.rows<Record<string, unknown>>(`SELECT * FROM ${table}`))
        parts.push(
          Object.values(r)
            .map((v) => (Buffer.isBuffer(v) ? v.toString('latin1') : String(v)))
            .join('\u0001'),
        );
    }
  }
  return parts.join('\n');
}

async function rekeyAll(store: Store, limit: number): Promise<{ batches: number; resealed: number }> {
  let position: RekeyPosition | null = null;
  let batches = 0;
  let resealed = 0;
  do {
    const batch = await store.rekey(position, limit);
    expect(batch.examined).toBeLessThanOrEqual(limit);
    resealed += batch.resealed;
    position = batch.next;
    batches++;
  } while (position !== null);
  return { batches, resealed };
}

describe.each(backends)('encryption at rest ($name)', (backend) => {
  if (skipUnavailable(backend)) return;
  const databases: TestDatabase[] = [];
  const stores: Store[] = [];
  async function fresh(): Promise<TestDatabase> {
    const db = await backend.create();
    databases.push(db);
    return db;
  }
  async function open(db: TestDatabase, encryption?: EncryptionKeys): Promise<Store> {
    const store = await openStore(db.url, encryption ? { encryption } : {});
    stores.push(store);
    return store;
  }
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    for (const db of databases.splice(0)) await db.drop();
  });

  it('seals bodies, headers, quarantine and fetched decisions with a key, and reads them back', async () => {
    const db = await fresh();
    const store = await open(db, keyA);
    const { event, input } = personalEvent();
    const outcome = await store.ingest(input);
    expect(outcome.kind).toBe('accepted');
    const eventId = outcome.eventId;
    await store.quarantine({
      reason: 'invalid',
      status: 422,
      detail: { errors: [{ path: '/x', message: `bad value ${NAME}` }] },
      headers: { 'x-customer-name': NAME },
      body: Buffer.from(JSON.stringify({ documentNumber: DOCUMENT_NUMBER })),
      bodySize: 40,
      receivedAt: new Date(),
    });
    await store.recordDecision(eventId, String(event.docvTransactionId), {
      decision: 'accept',
      reasonCodes: ['I001'],
      fetchedAt: new Date().toISOString(),
      details: { documentVerification: { documentNumber: DOCUMENT_NUMBER, name: NAME } },
    } as never);

    const text = await storedText(db);
    expect(text).not.toContain(DOCUMENT_NUMBER);
    expect(text).not.toContain(NAME);
    // Clear, for lists and filters: ids, type, decision, customer id.
    expect(text).toContain(eventId);
    expect(text).toContain('VERIFICATION_COMPLETED');
    const keyIds = await db.rows<{ key_id: string }>('SELECT key_id FROM events');
    expect(keyIds).toEqual([{ key_id: keyIdOf(keyA.current!) }]);

    const stored = await store.getEvent(eventId);
    expect(stored?.payload).toMatchObject({ documentData: { documentNumber: DOCUMENT_NUMBER, fullName: NAME } });
    expect(stored?.headers['x-customer-name']).toBe(NAME);
    const [entry] = (await store.listQuarantine({ limit: 10 })).items;
    expect(entry?.body).toContain(DOCUMENT_NUMBER);
    expect(entry?.headers['x-customer-name']).toBe(NAME);
    expect(JSON.stringify(entry?.detail)).toContain(NAME);

    // A destination reads the event (and its decision) opened.
    store.configureOutbox({ destinations: ['handler'] });
    const { input: second } = personalEvent({
      docvTransactionId: event.docvTransactionId,
      eventType: 'SESSION_COMPLETE',
      decision: undefined,
    });
    await store.ingest(second);
    const claimed = await store.claimDeliveries({
      workerId: 'w',
      destinations: ['handler'],
      limit: 10,
      leaseMs: 30_000,
      ordered: true,
    } as never);
    expect(claimed.length).toBeGreaterThan(0);
    expect(JSON.stringify(claimed[0]!.event.payload)).toContain(DOCUMENT_NUMBER);
  });

  it('without a key keeps them in clear, as before (so the sealing test can fail)', async () => {
    const db = await fresh();
    const store = await open(db);
    await store.ingest(personalEvent().input);
    const text = await storedText(db);
    expect(text).toContain(DOCUMENT_NUMBER);
    expect(text).toContain(NAME);
    expect(await db.rows('SELECT key_id FROM events')).toEqual([{ key_id: null }]);
  });

  it('refuses to open without the key, or with another one, naming the key and example rows', async () => {
    const db = await fresh();
    const store = await open(db, keyA);
    const { eventId } = await store.ingest(personalEvent().input);
    await store.close();
    const keyId = keyIdOf(keyA.current!);

    for (const encryption of [undefined, { current: randomBytes(32), previous: [] }]) {
      const refused = await openStore(db.url, encryption ? { encryption } : {}).then(
        (s) => (stores.push(s), null),
        (err: Error) => err,
      );
      expect(refused).toBeInstanceOf(EncryptionKeyMismatchError);
      expect(refused!.message).toContain(keyId);
      expect(refused!.message).toContain(eventId);
      expect(refused!.message).toMatch(/events: 1 rows/);
      expect(refused!.message).not.toContain(Buffer.from(keyA.current!).toString('base64'));
    }
    // With the key as a previous one (rows still sealed with it), it opens and reads.
    const rotated = await open(db, { current: randomBytes(32), previous: [keyA.current!] });
    expect((await rotated.getEvent(eventId))?.payload).toMatchObject({
      documentData: { documentNumber: DOCUMENT_NUMBER },
    });
  });

  it('a changed or swapped sealed value is an error naming the row, never garbage', async () => {
    const db = await fresh();
    const store = await open(db, keyA);
    const first = await store.ingest(personalEvent().input);
    const second = await store.ingest(personalEvent().input);
    // Flip the last byte of the first body's ciphertext.
    const [row] = await db.rows<{ raw_body: Buffer | string }>(
      'SELECT raw_body FROM events WHERE event_id = ?',
      first.eventId,
    );
    const bytes = Buffer.isBuffer(row!.raw_body)
      ? Buffer.from(row!.raw_body)
      : Buffer.from(String(row!.raw_body).slice(2), 'hex');
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1;
    await db.write('UPDATE events SET raw_body = ? WHERE event_id = ?', bytes, first.eventId);
    const err = await store.getEvent(first.eventId).catch((e: Error) => e);
    expect(err).toBeInstanceOf(SealedRowError);
    expect((err as Error).message).toContain(first.eventId);
    expect((err as Error).message).toMatch(/fails authentication/);

    // The second row's headers copied into the first row do not open there either.
    const [other] = await db.rows<{ headers: string }>('SELECT headers FROM events WHERE event_id = ?', second.eventId);
    await db.write('UPDATE events SET headers = ? WHERE event_id = ?', other!.headers, first.eventId);
    const [original] = await db.rows<{ raw_body: Buffer | string }>(
      'SELECT raw_body FROM events WHERE event_id = ?',
      second.eventId,
    );
    const body = Buffer.isBuffer(original!.raw_body)
      ? original!.raw_body
      : Buffer.from(String(original!.raw_body).slice(2), 'hex');
    await db.write('UPDATE events SET raw_body = ? WHERE event_id = ?', body, first.eventId);
    const swapped = await store.getEvent(first.eventId).catch((e: Error) => e);
    expect(swapped).toBeInstanceOf(SealedRowError);
    expect((await store.getEvent(second.eventId))?.headers['x-customer-name']).toBe(NAME);
  });

  it('rotates: new rows with the new key, rekey re-seals old and clear rows in bounded batches, then the old key can go', async () => {
    const db = await fresh();
    const clear = await open(db);
    const plain = await clear.ingest(personalEvent().input);
    await clear.close();
    const before = await open(db, keyA);
    const old: string[] = [];
    for (let i = 0; i < 5; i++) old.push((await before.ingest(personalEvent().input)).eventId);
    await before.quarantine({
      reason: 'invalid',
      status: 422,
      detail: null,
      headers: {},
      body: Buffer.from(DOCUMENT_NUMBER),
      bodySize: DOCUMENT_NUMBER.length,
      receivedAt: new Date(),
    });
    await before.close();

    const store = await open(db, keyB);
    const fresh1 = await store.ingest(personalEvent().input);
    const idA = keyIdOf(keyA.current!);
    const idB = keyIdOf(keyB.current!);
    expect(await db.rows('SELECT key_id FROM events WHERE event_id = ?', fresh1.eventId)).toEqual([{ key_id: idB }]);
    // Reads work across all three kinds of row.
    for (const id of [plain.eventId, ...old, fresh1.eventId])
      expect((await store.getEvent(id))?.payload).toMatchObject({ documentData: { documentNumber: DOCUMENT_NUMBER } });

    expect(await store.retireUnusedKeys()).toEqual([]);
    const { batches, resealed } = await rekeyAll(store, 2);
    expect(resealed).toBe(1 + 5 + 1); // the clear row, the five old ones, the quarantined body
    expect(batches).toBeGreaterThanOrEqual(4);
    const keys = await db.rows<{ key_id: string }>('SELECT DISTINCT key_id FROM events');
    expect(keys).toEqual([{ key_id: idB }]);
    expect(await db.rows('SELECT DISTINCT key_id FROM quarantine')).toEqual([{ key_id: idB }]);
    expect((await rekeyAll(store, 2)).resealed).toBe(0); // resumable, idempotent
    expect(await store.retireUnusedKeys()).toEqual([idA]);
    expect((await storedText(db)).includes(DOCUMENT_NUMBER)).toBe(false);
    await store.close();

    // The old key is no longer needed.
    const after = await open(db, { current: keyB.current, previous: [] });
    for (const id of [plain.eventId, ...old]) expect((await after.getEvent(id))?.headers['x-customer-name']).toBe(NAME);
    expect((await after.listQuarantine({ limit: 5 })).items[0]?.body).toBe(DOCUMENT_NUMBER);
  });
});
