import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { TransactionRecord } from '../../src/sandbox/records.js';
import { SandboxStore } from '../../src/sandbox/store.js';

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});

/** The transactions table as schema version 1 made it, before transactions had a dialect. */
const V1_TRANSACTIONS = `CREATE TABLE transactions (
  id TEXT PRIMARY KEY, reference_id TEXT NOT NULL, session_token TEXT NOT NULL UNIQUE, customer_user_id TEXT, webhook_url TEXT,
  document_type TEXT NOT NULL, country TEXT NOT NULL, redirect_url TEXT, requested_scenario TEXT NOT NULL, scenario TEXT NOT NULL,
  outcome TEXT NOT NULL, time_scale REAL NOT NULL, chaos TEXT, status TEXT NOT NULL, decision TEXT, uploads TEXT NOT NULL DEFAULT '[]',
  created_at INTEGER NOT NULL, completed_at INTEGER)`;

describe('sandbox store schema 2', () => {
  it('opens a version 1 file: its transactions are flat-contract ones, and new ones keep their dialect and numeric customerUserId', () => {
    const dir = mkdtempSync(join(tmpdir(), 'docv-sandbox-migrate-'));
    dirs.push(dir);
    const file = join(dir, 'sandbox.db');
    const old = new Database(file);
    old.exec(V1_TRANSACTIONS);
    old
      .prepare(
        `INSERT INTO transactions (id, reference_id, session_token, customer_user_id, document_type, country, requested_scenario,
      scenario, outcome, time_scale, status, created_at) VALUES ('tx-old', 'ref', 'tok', '42', 'license', 'US', 'accept', 'accept', 'accept', 1, 'CREATED', 1)`,
      )
      .run();
    old.pragma('user_version = 1');
    old.close();

    const store = new SandboxStore(file);
    try {
      expect(store.getTransaction('tx-old')).toMatchObject({
        docvTransactionId: 'tx-old',
        dialect: 'asyncapi',
        customerUserId: '42',
      });
      expect(store.getTransaction('tx-old')?.userId).toBeUndefined();
      const tx: TransactionRecord = {
        docvTransactionId: 'tx-new',
        referenceId: 'ref2',
        sessionToken: 'tok2',
        customerUserId: 121212,
        userId: 'u-1',
        dialect: 'socure-v5',
        documentType: 'passport',
        country: 'GB',
        requestedScenario: 'review',
        scenario: 'review',
        outcome: 'review',
        timeScale: 1,
        status: 'CREATED',
        uploads: [],
        createdAt: 2,
      };
      store.insertTransaction(tx);
      expect(store.getTransaction('tx-new')).toMatchObject({
        customerUserId: 121212,
        userId: 'u-1',
        dialect: 'socure-v5',
        outcome: 'review',
      });
    } finally {
      store.close();
    }
    const reopened = new Database(file, { readonly: true });
    expect(reopened.pragma('user_version', { simple: true })).toBe(2);
    reopened.close();
  });
});
