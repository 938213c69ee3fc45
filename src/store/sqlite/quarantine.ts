import type Database from 'better-sqlite3';
import { DEFAULT_SOURCE, isDialect } from '../../contract/index.js';
import { decodeCursor } from '../cursor.js';
import type { Sealer } from '../encryption/sealer.js';
import { customerOfQuarantinedBody } from '../erasure.js';
import { newId } from '../ids.js';
import { page, shownHeaders } from '../rows.js';
import { Where } from '../where.js';
import type {
  BoundedCount,
  Page,
  QuarantineEntry,
  QuarantineFilter,
  QuarantineInput,
  QuarantineReprocessResult,
} from '../types.js';

interface QuarantineRow {
  seq: number;
  quarantine_id: string;
  received_at: string;
  reason: string;
  status: number;
  detail: string;
  headers: string;
  body: Buffer;
  body_size: number;
  dialect: string | null;
  reprocessed_at: string | null;
  reprocess_outcome: string | null;
  reprocess_status: number | null;
  reprocess_event_id: string | null;
  key_id: string | null;
  source: string;
}

function quarantineEntryOf(r: QuarantineRow, sealer: Sealer): QuarantineEntry {
  const id = r.quarantine_id;
  const body = sealer.openBytes(r.body, r.key_id, 'quarantine', 'body', id);
  return {
    quarantineId: id,
    receivedAt: r.received_at,
    reason: r.reason,
    status: r.status,
    detail: JSON.parse(sealer.openJsonText(r.detail, r.key_id, 'quarantine', 'detail', id)) as unknown,
    headers: shownHeaders(sealer.openJsonText(r.headers, r.key_id, 'quarantine', 'headers', id)),
    body: body.toString('utf8'),
    bodySize: r.body_size,
    bodyTruncated: body.length < r.body_size,
    dialect: isDialect(r.dialect) ? r.dialect : null,
    source: r.source,
    reprocessed:
      r.reprocessed_at === null
        ? null
        : {
            at: r.reprocessed_at,
            outcome: r.reprocess_outcome ?? '',
            status: r.reprocess_status ?? 0,
            eventId: r.reprocess_event_id,
          },
  };
}

/**
 * The quarantine half of the SQLite store: authenticated deliveries that were refused, kept
 * (bounded, the oldest go first) to be read and run through ingest again. The writes run inside
 * the store's write queue, so they share its group commit.
 */
export class SqliteQuarantine {
  private readonly stmts;

  constructor(
    private readonly db: Database.Database,
    private readonly sealer: Sealer,
  ) {
    this.stmts = {
      insert: db.prepare(
        `INSERT INTO quarantine (quarantine_id, received_at, reason, status, detail, headers, body, body_size, dialect, key_id, customer_user_id, source)
         VALUES (@quarantineId, @receivedAt, @reason, @status, @detail, @headers, @body, @bodySize, @dialect, @keyId, @customerUserId, @source)`,
      ),
      trim: db.prepare('DELETE FROM quarantine WHERE seq <= (SELECT MAX(seq) FROM quarantine) - ?'),
      markReprocessed: db.prepare(
        `UPDATE quarantine SET reprocessed_at = @at, reprocess_outcome = @outcome, reprocess_status = @status, reprocess_event_id = @eventId
         WHERE quarantine_id = @quarantineId`,
      ),
      get: db.prepare<[string], QuarantineRow>('SELECT * FROM quarantine WHERE quarantine_id = ?'),
    };
  }

  insert(input: QuarantineInput, capacity: number): void {
    const quarantineId = newId('qrn', input.receivedAt.getTime());
    const detail = JSON.stringify(input.detail ?? null);
    const headers = JSON.stringify(input.headers);
    // The detail is sealed too: a validation message can echo a value of the body.
    const keyId = this.sealer.currentKeyId;
    this.stmts.insert.run({
      quarantineId,
      receivedAt: input.receivedAt.toISOString(),
      reason: input.reason,
      status: input.status,
      detail: keyId ? this.sealer.sealJson(detail, 'quarantine', 'detail', quarantineId) : detail,
      headers: keyId ? this.sealer.sealJson(headers, 'quarantine', 'headers', quarantineId) : headers,
      body: keyId ? this.sealer.sealBytes(input.body, 'quarantine', 'body', quarantineId) : Buffer.from(input.body),
      bodySize: input.bodySize,
      dialect: input.dialect ?? null,
      keyId,
      // In clear, like the events' column: an erasure request finds the quarantined bodies by it.
      customerUserId: customerOfQuarantinedBody(input.body),
      source: input.source ?? DEFAULT_SOURCE,
    });
    this.stmts.trim.run(capacity);
  }

  list(filter: QuarantineFilter): Page<QuarantineEntry> {
    const where = this.where(filter);
    const after = decodeCursor(filter.cursor, 'qr');
    if (after !== null) where.add('seq < ?', after);
    const sql = `SELECT * FROM quarantine ${where} ORDER BY seq DESC LIMIT ${where.param(filter.limit + 1)}`;
    return page(this.db.prepare<unknown[], QuarantineRow>(sql).all(...where.values), filter.limit, 'qr', (row) =>
      quarantineEntryOf(row, this.sealer),
    );
  }

  /** The filter's rows counted up to cap + 1, reading no body (the dashboard's bulk confirmation). */
  count(filter: Omit<QuarantineFilter, 'limit' | 'cursor'>, cap: number): BoundedCount {
    const limit = Math.max(0, Math.floor(cap));
    const where = this.where(filter);
    const sql = `SELECT COUNT(*) AS n FROM (SELECT 1 FROM quarantine ${where} LIMIT ${where.param(limit + 1)})`;
    const n = this.db.prepare<unknown[], { n: number }>(sql).get(...where.values)?.n ?? 0;
    return n > limit ? { count: limit, capped: true } : { count: n, capped: false };
  }

  private where(filter: Omit<QuarantineFilter, 'limit' | 'cursor'>): Where {
    const where = new Where('?');
    if (filter.reason !== undefined) where.add('reason = ?', filter.reason);
    if (filter.status !== undefined) where.add('status = ?', filter.status);
    if (filter.source !== undefined) where.add('source = ?', filter.source);
    if (filter.reprocessed !== undefined) where.raw(`reprocessed_at IS ${filter.reprocessed ? 'NOT NULL' : 'NULL'}`);
    // received_at is ISO text in UTC (toISOString): text order is time order.
    if (filter.from !== undefined) where.add('received_at >= ?', filter.from.toISOString());
    if (filter.to !== undefined) where.add('received_at < ?', filter.to.toISOString());
    return where;
  }

  get(quarantineId: string): QuarantineEntry | null {
    const row = this.stmts.get.get(quarantineId);
    return row ? quarantineEntryOf(row, this.sealer) : null;
  }

  markReprocessed(quarantineId: string, result: QuarantineReprocessResult): void {
    this.stmts.markReprocessed.run({
      quarantineId,
      at: result.at,
      outcome: result.outcome,
      status: result.status,
      eventId: result.eventId,
    });
  }
}
