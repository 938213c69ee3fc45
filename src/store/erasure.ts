import { createHmac, randomBytes } from 'node:crypto';
import type { ErasureCounts, ErasureRecord, RetentionStore } from './types.js';

/*
 * Erasure requests (issue 20): one person's data deleted across events, transactions, their
 * deliveries, attempts and decisions, and quarantine, in bounded steps, then one record that it
 * was done. The record keeps a salted hash of the customer user id, never the id, so an auditor
 * who is given an id can check it was erased, and the table alone names nobody.
 */

export const ERASURE_SALT_STATE = 'erasure_salt';

/** A fresh salt for a store that has none yet (kept in retention_state). */
export function newErasureSalt(): string {
  return randomBytes(32).toString('hex');
}

/**
 * HMAC-SHA-256 of the customer user id under the store's salt. Ids are often guessable (emails,
 * numbers): the salt lives in the same database, so this keeps the id out of the table and out of
 * backups of the table's rows read alone, not from someone holding the whole database.
 */
export function customerHash(salt: string, customerUserId: string): string {
  return createHmac('sha256', salt).update(customerUserId, 'utf8').digest('hex');
}

export function emptyErasureCounts(): ErasureCounts {
  return { events: 0, transactions: 0, deliveries: 0, attempts: 0, decisions: 0, quarantine: 0 };
}

export function addErasureCounts(into: ErasureCounts, more: ErasureCounts): ErasureCounts {
  for (const k of Object.keys(into) as Array<keyof ErasureCounts>) into[k] += more[k];
  return into;
}

/** Rows deleted by one erasure step, at most (a step is one commit). */
export const ERASURE_BATCH = 500;

export interface EraseOptions {
  now?: () => Date;
  batch?: number;
  /** Pause between steps, so other writes get the store in between (ms). */
  pauseMs?: number;
}

/**
 * Erases one customer's data in bounded steps, then records that it did. Log destinations
 * never deliver an erased event: it is gone before their cursor reaches it.
 */
export async function eraseCustomer(
  store: RetentionStore,
  customerUserId: string,
  options: EraseOptions = {},
): Promise<ErasureRecord> {
  if (customerUserId.length === 0) throw new RangeError('customerUserId must not be empty');
  const now = options.now ?? (() => new Date());
  const counts = emptyErasureCounts();
  for (let step = 0; step < 1_000_000; step++) {
    const done = await store.eraseCustomerStep(customerUserId, options.batch ?? ERASURE_BATCH, now());
    addErasureCounts(counts, done.counts);
    if (done.done) break;
    if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
  }
  return store.recordErasure(customerUserId, counts, now());
}

/** The customer user id a quarantined body carried, when it is JSON and names one (any dialect). */
export function customerOfQuarantinedBody(body: Uint8Array): string | null {
  if (body.byteLength === 0 || body.byteLength > 1_048_576) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  } catch {
    return null;
  }
  // The flat contract and v5 (`event.customerUserId`) and RiskOS (`…customerProfile.customerUserId`)
  // all name it so; a breadth-first look a few levels down finds it in any of them.
  let level: unknown[] = [parsed];
  for (let depth = 0; depth < 6 && level.length > 0; depth++) {
    const next: unknown[] = [];
    for (const node of level) {
      if (node === null || typeof node !== 'object') continue;
      for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
        if (key === 'customerUserId' && (typeof value === 'string' || typeof value === 'number')) {
          const id = String(value);
          if (id.length > 0) return id;
        }
        if (value !== null && typeof value === 'object') next.push(value);
      }
    }
    level = next.slice(0, 1_000);
  }
  return null;
}
