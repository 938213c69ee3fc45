import type { Decision, DocvEvent, DocvEventType } from '../contract/index.js';
import type { TransactionLifecycle } from '../lifecycle/index.js';

/** One authenticated, contract-valid delivery, ready to be committed. */
export interface IngestInput {
  /** `id:<webhook-id>` when the sender gave a delivery id, else `sha256:<canonical payload hash>`. */
  dedupeKey: string;
  deliveryId: string | null;
  /** SHA-256 of the canonical payload: tells a true duplicate from a reused delivery id. */
  contentHash: string;
  event: DocvEvent;
  rawBody: Uint8Array;
  headers: Record<string, string>;
  receivedAt: Date;
}

export type IngestOutcome =
  | { kind: 'accepted'; eventId: string }
  | { kind: 'duplicate'; eventId: string }
  /** The delivery id was seen before with a different payload. */
  | { kind: 'conflict'; eventId: string };

export interface QuarantineInput {
  reason: string;
  status: number;
  detail: unknown;
  headers: Record<string, string>;
  body: Uint8Array;
  bodySize: number;
  receivedAt: Date;
}

export interface StoredEventSummary {
  eventId: string;
  docvTransactionId: string;
  eventType: DocvEventType;
  eventTime: string;
  decision: Decision | null;
  customerUserId: string | null;
  deliveryId: string | null;
  dedupeKey: string;
  receivedAt: string;
}

export interface StoredEvent extends StoredEventSummary {
  payload: DocvEvent;
  rawBody: string;
  headers: Record<string, string>;
}

export type TransactionSummary = Omit<TransactionLifecycle, 'seen'>;

export interface TransactionView extends TransactionSummary {
  events: StoredEventSummary[];
}

export interface QuarantineEntry {
  quarantineId: string;
  receivedAt: string;
  reason: string;
  status: number;
  detail: unknown;
  headers: Record<string, string>;
  body: string;
  bodySize: number;
  bodyTruncated: boolean;
}

export interface Page<T> {
  items: T[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

export interface PageRequest {
  limit: number;
  cursor?: string | undefined;
}

export interface TransactionFilter extends PageRequest {
  status?: DocvEventType | undefined;
  decision?: Decision | undefined;
  customerUserId?: string | undefined;
}

export interface EventFilter extends PageRequest {
  docvTransactionId?: string | undefined;
  eventType?: DocvEventType | undefined;
}

export interface StoreStats {
  events: number;
  transactions: number;
  quarantine: number;
}

/**
 * Everything the receiver persists. Implementations: SQLite (embedded default) and PostgreSQL.
 * `ingest` resolves only once the event and its lifecycle are durably committed.
 */
export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Applies pending migrations; returns the versions applied. */
  migrate(): Promise<number[]>;
  ingest(input: IngestInput): Promise<IngestOutcome>;
  quarantine(input: QuarantineInput): Promise<void>;
  getTransaction(docvTransactionId: string): Promise<TransactionView | null>;
  listTransactions(filter: TransactionFilter): Promise<Page<TransactionSummary>>;
  getEvent(eventId: string): Promise<StoredEvent | null>;
  listEvents(filter: EventFilter): Promise<Page<StoredEventSummary>>;
  listQuarantine(page: PageRequest): Promise<Page<QuarantineEntry>>;
  stats(): Promise<StoreStats>;
  /** Throws when the store cannot serve requests (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The store cannot take writes right now (disk, lock, connection): the sender should retry. */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

export const MAX_PAGE_LIMIT = 500;
