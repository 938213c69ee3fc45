import type pg from 'pg';
import { DEFAULT_SOURCE, isDialect, type Dialect } from '../../contract/index.js';
import { decodeCursor } from '../cursor.js';
import type { Sealer } from '../encryption/sealer.js';
import { customerOfQuarantinedBody } from '../erasure.js';
import { newId } from '../ids.js';
import { page, shownHeaders } from '../rows.js';
import type {
  BoundedCount,
  Page,
  QuarantineEntry,
  QuarantineFilter,
  QuarantineInput,
  QuarantineReprocessResult,
} from '../types.js';
import { pgText } from './pg-text.js';
import { Where } from '../where.js';

interface QuarantineRow {
  seq: number;
  quarantine_id: string;
  received_at: Date;
  reason: string;
  status: number;
  detail: unknown;
  headers: Record<string, string>;
  body: Buffer;
  body_size: number;
  dialect: string | null;
  reprocessed_at: Date | null;
  reprocess_outcome: string | null;
  reprocess_status: number | null;
  reprocess_event_id: string | null;
  key_id: string | null;
  source: string;
}

/** Stores a rejected delivery and drops the oldest beyond `capacity`, in the caller's transaction. */
export async function insert(
  client: pg.PoolClient,
  input: QuarantineInput,
  capacity: number,
  sealer: Sealer,
): Promise<void> {
  const quarantineId = newId('qrn', input.receivedAt.getTime());
  const detail = JSON.stringify(input.detail ?? null);
  const headers = JSON.stringify(input.headers);
  const body = Buffer.from(input.body.buffer, input.body.byteOffset, input.body.byteLength);
  // The detail is sealed too: a validation message can echo a value of the body.
  const keyId = sealer.currentKeyId;
  await client.query(
    `INSERT INTO quarantine (quarantine_id, received_at, reason, status, detail, headers, body, body_size, dialect, key_id,
       customer_user_id, source)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
    [
      quarantineId,
      input.receivedAt.toISOString(),
      pgText(input.reason),
      input.status,
      keyId ? sealer.sealJson(detail, 'quarantine', 'detail', quarantineId) : detail,
      keyId ? sealer.sealJson(headers, 'quarantine', 'headers', quarantineId) : headers,
      keyId ? sealer.sealBytes(body, 'quarantine', 'body', quarantineId) : body,
      input.bodySize,
      input.dialect ?? null,
      keyId,
      // In clear, like the events' column: an erasure request finds the quarantined bodies by it.
      pgText(customerOfQuarantinedBody(input.body)),
      input.source ?? DEFAULT_SOURCE,
    ],
  );
  // Sequences have gaps (rolled-back inserts), so keep the newest N rows rather than seq > max - N.
  await client.query(
    'DELETE FROM quarantine WHERE seq <= (SELECT seq FROM quarantine ORDER BY seq DESC OFFSET $1 LIMIT 1)',
    [capacity],
  );
}

/**
 * Newest first. The quarantine is bounded (10,000 rows by default), so the filters walk the
 * primary key backwards without indexes of their own.
 */
export async function list(db: pg.Pool, filter: QuarantineFilter, sealer: Sealer): Promise<Page<QuarantineEntry>> {
  const where = conditions(filter);
  const after = decodeCursor(filter.cursor, 'qr');
  if (after !== null) where.add('seq < ?', after);
  const sql = `SELECT * FROM quarantine ${where} ORDER BY seq DESC LIMIT ${where.param(filter.limit + 1)}`;
  const { rows } = await db.query<QuarantineRow>(sql, where.values);
  return page(rows, filter.limit, 'qr', (row) => entryOf(row, sealer));
}

/** The filter's rows counted up to cap + 1, reading no body (the dashboard's bulk confirmation). */
export async function count(
  db: pg.Pool,
  filter: Omit<QuarantineFilter, 'limit' | 'cursor'>,
  cap: number,
): Promise<BoundedCount> {
  const limit = Math.max(0, Math.floor(cap));
  const where = conditions(filter);
  const sql = `SELECT COUNT(*)::int AS n FROM (SELECT 1 FROM quarantine ${where} LIMIT ${where.param(limit + 1)}) matched`;
  const n = (await db.query<{ n: number }>(sql, where.values)).rows[0]?.n ?? 0;
  return n > limit ? { count: limit, capped: true } : { count: n, capped: false };
}

function conditions(filter: Omit<QuarantineFilter, 'limit' | 'cursor'>): Where {
  const where = new Where('$n');
  if (filter.reason !== undefined) where.add('reason = ?', pgText(filter.reason));
  if (filter.status !== undefined) where.add('status = ?', filter.status);
  if (filter.reprocessed !== undefined)
    where.raw(filter.reprocessed ? 'reprocessed_at IS NOT NULL' : 'reprocessed_at IS NULL');
  if (filter.source !== undefined) where.add('source = ?', filter.source);
  if (filter.from) where.add('received_at >= ?', filter.from.toISOString());
  if (filter.to) where.add('received_at < ?', filter.to.toISOString());
  return where;
}

export async function get(db: pg.Pool, quarantineId: string, sealer: Sealer): Promise<QuarantineEntry | null> {
  const { rows } = await db.query<QuarantineRow>('SELECT * FROM quarantine WHERE quarantine_id = $1', [
    pgText(quarantineId),
  ]);
  return rows[0] ? entryOf(rows[0], sealer) : null;
}

/** Keeps the latest outcome only: an entry may be run through ingest again more than once. */
export async function markReprocessed(
  db: pg.Pool,
  quarantineId: string,
  result: QuarantineReprocessResult,
): Promise<void> {
  await db.query(
    `UPDATE quarantine SET reprocessed_at = $2, reprocess_outcome = $3, reprocess_status = $4, reprocess_event_id = $5
     WHERE quarantine_id = $1`,
    [pgText(quarantineId), result.at, pgText(result.outcome), result.status, pgText(result.eventId)],
  );
}

function dialectOf(value: string | null): Dialect | null {
  return isDialect(value) ? value : null;
}

function entryOf(r: QuarantineRow, sealer: Sealer): QuarantineEntry {
  const id = r.quarantine_id;
  const body = sealer.openBytes(r.body, r.key_id, 'quarantine', 'body', id);
  return {
    quarantineId: id,
    receivedAt: r.received_at.toISOString(),
    reason: r.reason,
    status: r.status,
    detail: sealer.openJsonValue(r.detail, r.key_id, 'quarantine', 'detail', id),
    headers: shownHeaders(
      sealer.openJsonValue(r.headers, r.key_id, 'quarantine', 'headers', id) as Record<string, string>,
    ),
    body: body.toString('utf8'),
    bodySize: r.body_size,
    bodyTruncated: body.length < r.body_size,
    dialect: dialectOf(r.dialect),
    source: r.source,
    reprocessed:
      r.reprocessed_at === null
        ? null
        : {
            at: r.reprocessed_at.toISOString(),
            outcome: r.reprocess_outcome ?? '',
            status: r.reprocess_status ?? 0,
            eventId: r.reprocess_event_id,
          },
  };
}
