import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startReceiver, type RunningReceiver, type StartReceiverOptions } from '../../src/server/index.js';
import { sqliteDatabase, type TestDatabase } from './backends.js';
import { testEncryption } from './test-encryption.js';

export interface TestReceiver extends RunningReceiver {
  dir: string;
  /** The SQLite file ('' when the receiver runs on PostgreSQL). */
  dbPath: string;
  /** The database it runs on, for reading rows directly whatever the backend. */
  database: TestDatabase;
  /** POST a delivery; `body` objects are JSON-encoded, strings and buffers sent as they are. */
  deliver(body: unknown, headers?: Record<string, string>): Promise<{ status: number; headers: Headers; json: any }>;
  admin(path: string, init?: RequestInit): Promise<{ status: number; headers: Headers; json: any }>;
  /** Stops the server and deletes its files. */
  destroy(): Promise<void>;
}

export function tempDir(prefix = 'docv-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

async function readJson(res: Response): Promise<any> {
  const text = await res.text();
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return text;
  }
}

/**
 * A real receiver on a free loopback port with its own SQLite file, or on `database` (from a
 * backend of ./backends.ts; `destroy` drops it, `close` keeps it for a restart).
 */
export async function startTestReceiver(
  options: StartReceiverOptions & { dir?: string; database?: TestDatabase } = {},
): Promise<TestReceiver> {
  const { database: given, dir: _dir, ...receiverOptions } = options;
  const dir = options.dir ?? tempDir();
  const database = given ?? sqliteDatabase(join(dir, 'receiver.db'));
  const dbPath = database.path ?? '';
  const r = await startReceiver({
    port: 0,
    host: '127.0.0.1',
    db: database.url,
    logLevel: 'silent',
    // DOCV_TEST_ENCRYPTED=1: with encryption at rest on (test-encryption.ts).
    ...testEncryption(),
    ...receiverOptions,
  });
  return {
    ...r,
    dir,
    dbPath,
    database,
    async deliver(body, headers = {}) {
      const payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
      const res = await fetch(r.webhookUrl, {
        method: 'POST',
        body: payload as BodyInit,
        headers: { 'content-type': 'application/json', ...headers },
      });
      return { status: res.status, headers: res.headers, json: await readJson(res) };
    },
    async admin(path, init) {
      const res = await fetch(`${r.url}${path}`, init);
      return { status: res.status, headers: res.headers, json: await readJson(res) };
    },
    async destroy() {
      await r.close();
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
      if (given) await given.drop();
    },
  };
}

let counter = 0;
/** A valid event with a fresh transaction id unless one is given. */
export function docvEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  counter += 1;
  return {
    eventType: 'APP_OPENED',
    docvTransactionId: `tx-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 8)}`,
    eventTime: '2026-03-01T10:00:00Z',
    customerUserId: 'user-1',
    ...overrides,
  };
}
