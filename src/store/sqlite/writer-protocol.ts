import type { SqliteStoreOptions } from './sqlite-store.js';

/** The store methods that write, and so run on the writer thread. */
export const WRITE_METHODS = [
  'migrate',
  'ingest',
  'quarantine',
  'markQuarantineReprocessed',
  'claimDeliveries',
  'completeDelivery',
  'releaseDeliveries',
  'recordDecision',
  'markDecisionUnavailable',
  'retryDelivery',
  'replay',
  'configureOutbox',
  'addDestination',
  'setDestinationState',
  'retentionStep',
  'eraseCustomerStep',
  'recordErasure',
  'rekey',
  'retireUnusedKeys',
] as const;
export type WriteMethod = (typeof WRITE_METHODS)[number];

export interface WriteCall {
  id: number;
  method: WriteMethod;
  args: unknown[];
}

export type WriteResult =
  { id: number; ok: true; value: unknown } | { id: number; ok: false; message: string; unavailable: boolean };

/** Options that can cross to the thread (no functions). */
export type WriterOpenOptions = Omit<SqliteStoreOptions, 'onCommit' | 'fsync' | 'readonly'>;

export type ToWriter =
  { kind: 'open'; options: WriterOpenOptions } | { kind: 'calls'; calls: WriteCall[] } | { kind: 'close' };

export type FromWriter =
  | { kind: 'opened' }
  | { kind: 'open-failed'; message: string }
  /** Outcomes, and the group commits made since the last message: [writes, milliseconds]. */
  | { kind: 'results'; results: WriteResult[]; commits: Array<[number, number]> }
  | { kind: 'closed' };
