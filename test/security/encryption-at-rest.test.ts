import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { EncryptionKeys } from '../../src/store/index.js';
import { POSTGRES_TEST_URL, skipUnavailable, testBackends, type TestDatabase } from '../helpers/backends.js';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { startTestReceiver, type TestReceiver } from '../helpers/receiver.js';

const backends = await testBackends();
const SECRET = 'encryption-test-webhook-secret';
const fixture = JSON.parse(
  readFileSync(join(REPO_ROOT, 'test/fixtures/socure-v5/VERIFICATION_COMPLETED.json'), 'utf8'),
) as Record<string, any>;

/** A v5 completion carrying document data (kept on purpose) with a document number and name of its own. */
function completion(documentNumber: string, name: string): Record<string, unknown> {
  const body = structuredClone(fixture);
  body.id = `evt-${randomBytes(6).toString('hex')}`;
  body.origId = body.event.docvTransactionToken = `tx-${randomBytes(6).toString('hex')}`;
  const data = body.event.data.documentVerification.documentData;
  data.documentNumber = documentNumber;
  data.fullName = name;
  return body;
}

/**
 * The bytes a thief would have: the SQLite file and its WAL; on PostgreSQL the events and
 * quarantine table files (and their TOAST) when this process may read the data directory, else
 * the tables as the server hands them out.
 */
async function storedBytes(db: TestDatabase): Promise<Buffer> {
  if (db.backend === 'sqlite') {
    const files = [db.path!, `${db.path!}-wal`].filter((f) => existsSync(f));
    return Buffer.concat(await Promise.all(files.map((f) => readFile(f))));
  }
  const schema = new URL(db.url).searchParams.get('schema')!;
  const client = new pg.Client({ connectionString: POSTGRES_TEST_URL });
  await client.connect();
  try {
    await client.query('CHECKPOINT').catch(() => undefined);
    const dir = (await client.query<{ data_directory: string }>('SHOW data_directory')).rows[0]!.data_directory;
    const parts: Buffer[] = [];
    for (const table of ['events', 'quarantine', 'decisions']) {
      const { rows } = await client.query<{ main: string; toast: string | null }>(
        `SELECT pg_relation_filepath(c.oid) AS main, pg_relation_filepath(NULLIF(c.reltoastrelid, 0)) AS toast
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
        [schema, table],
      );
      for (const file of [rows[0]?.main, rows[0]?.toast]) {
        if (!file) continue;
        const path = join(dir, file);
        try {
          parts.push(await readFile(path));
        } catch {
          // Not readable here (another user owns the data directory): the tables' contents instead.
          const { rows: all } = await client.query<{ row: string }>(
            `SELECT t::text AS row FROM "${schema}".${table} t`,
          );
          parts.push(Buffer.from(all.map((r) => r.row).join('\n')));
        }
      }
    }
    return Buffer.concat(parts);
  } finally {
    await client.end();
  }
}

describe.each(backends)('encryption at rest, end to end ($name)', (backend) => {
  if (skipUnavailable(backend)) return;
  const receivers: TestReceiver[] = [];
  afterEach(async () => {
    for (const r of receivers.splice(0)) await r.destroy();
  });

  async function ingestPersonalData(encryption: EncryptionKeys | undefined) {
    const documentNumber = `DN${randomBytes(5).toString('hex').toUpperCase()}`;
    const name = `Quintessa ${randomBytes(4).toString('hex')}`;
    const database = await backend.create();
    const receiver = await startTestReceiver({
      database,
      socure: { storeDocumentData: true },
      auth: { webhookSecrets: [SECRET] },
      ...(encryption ? { encryption } : {}),
    });
    receivers.push(receiver);
    const accepted = await receiver.deliver(completion(documentNumber, name), { authorization: SECRET });
    expect(accepted.status).toBe(200);
    // And one refused (a second body under the same webhook-id), so the quarantine holds it.
    const refused = { ...completion(documentNumber, name), eventGroup: 42 };
    expect((await receiver.deliver(refused, { authorization: SECRET })).status).toBeGreaterThanOrEqual(400);
    const event = await receiver.admin(`/v1/events/${accepted.json.eventId}`);
    expect(JSON.stringify(event.json)).toContain(documentNumber);
    return { receiver, database, documentNumber, name, eventId: accepted.json.eventId as string };
  }

  it('with a key, neither the document number nor the name is in the database files', async () => {
    const { database, documentNumber, name, receiver } = await ingestPersonalData({
      current: randomBytes(32),
      previous: [],
    });
    const quarantined = await receiver.admin('/v1/quarantine');
    expect(JSON.stringify(quarantined.json)).toContain(name);
    const bytes = await storedBytes(database);
    expect(bytes.length).toBeGreaterThan(0);
    expect(bytes.includes(documentNumber)).toBe(false);
    expect(bytes.includes(name)).toBe(false);
  });

  it('without a key they are (the check above can fail)', async () => {
    const { database, documentNumber, name } = await ingestPersonalData(undefined);
    const bytes = await storedBytes(database);
    expect(bytes.includes(documentNumber)).toBe(true);
    expect(bytes.includes(name)).toBe(true);
  });

  it('a row that cannot be opened is a problem naming it, not a 500', async () => {
    const { database, receiver, eventId } = await ingestPersonalData({ current: randomBytes(32), previous: [] });
    await database.write('UPDATE events SET headers = \'"dve1:AAAA"\' WHERE event_id = ?', eventId);
    const res = await receiver.admin(`/v1/events/${eventId}`);
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.json.type).toContain('sealed-row-unreadable');
    expect(res.json.detail).toContain(eventId);
  });
});

describe('serve with the wrong key (a fresh process)', () => {
  it('refuses to start, naming the key id and rows, and exits non-zero; with the key it starts', async () => {
    const key = randomBytes(32).toString('base64');
    const database = await backends[0]!.create();
    try {
      const first = await startTestReceiver({
        database,
        encryption: { current: Buffer.from(key, 'base64'), previous: [] },
      });
      const { json } = await first.deliver(completion('DN1', 'Someone'));
      await first.close();

      const wrong = randomBytes(32).toString('base64');
      const refused = await runCli(['serve', '--port', '0', '--db', database.url], {
        env: { DOCV_ENCRYPTION_KEY: wrong },
      });
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/sealed with a key this process does not have/);
      expect(refused.stderr).toContain(json.eventId);
      expect(refused.stderr).not.toContain(wrong);
      expect(refused.stderr).not.toContain(key);

      const bad = await runCli(['serve', '--port', '0', '--db', database.url], {
        env: { DOCV_ENCRYPTION_KEY: 'c2hvcnQ=' },
      });
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toContain('DOCV_ENCRYPTION_KEY must be 32 random bytes in base64');
      expect(bad.stderr).not.toContain('c2hvcnQ=');

      // rekey in a fresh process: the old key as previous, a new one current.
      const next = randomBytes(32).toString('base64');
      const rekeyed = await runCli(['rekey', '--db', database.url, '--batch', '1', '--pause', '0'], {
        env: { DOCV_ENCRYPTION_KEY: next, DOCV_ENCRYPTION_PREVIOUS_KEYS: key },
      });
      expect(rekeyed.code).toBe(0);
      expect(rekeyed.stdout).toMatch(/done: [1-9]\d* rows re-sealed/);
      expect(rekeyed.stdout).toMatch(/can be removed from the previous keys/);
      const listed = await runCli(['events', 'show', json.eventId, '--db', database.url], {
        env: { DOCV_ENCRYPTION_KEY: next },
      });
      expect(listed.code).toBe(0);
      expect(listed.stdout).toContain('I831'); // the payload, opened with the new key
    } finally {
      await database.drop();
    }
  });
});
