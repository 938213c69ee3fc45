import type pg from 'pg';
import type { TransactionLifecycle } from '../../lifecycle/index.js';
import { pgText } from './pg-text.js';

export const TRANSACTION_COLUMNS =
  'docv_transaction_id, status, decision, customer_user_id, first_event_at, last_event_at, first_received_at, last_received_at, event_count, anomaly_count, state, dialects, environment';

/**
 * The casts of transactionColumns' arrays, in order, for unnest. Dialects come as one text each
 * (comma-separated: unnest would flatten an array of arrays); DIALECTS_OF makes the column.
 */
export const TRANSACTION_ARRAYS =
  '$1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::int[], $10::int[], $11::json[], $12::text[], $13::text[]';

/** The dialects column from the comma-separated text of transactionColumns. */
export const DIALECTS_OF = (text: string) => `string_to_array(${text}, ',')`;

/** The dialects a lifecycle has seen (lifecycles from before dialects existed were all flat). */
export function dialectsOf(state: TransactionLifecycle): string[] {
  return state.seen.dialects ?? (state.eventCount > 0 ? ['asyncapi'] : []);
}

/**
 * Lifecycle state as the row of `transactions` it is stored in, one array per column. `keys`: each
 * state's transaction key (rows.ts, transactionColumn), the row's docv_transaction_id; the state
 * itself keeps the id as the sender spelled it.
 */
export function transactionColumns(states: TransactionLifecycle[], keys: readonly string[]): unknown[] {
  return [
    keys.map((key) => pgText(key)),
    states.map((s) => s.status),
    states.map((s) => s.decision),
    states.map((s) => pgText(s.customerUserId)),
    states.map((s) => s.firstEventAt),
    states.map((s) => s.lastEventAt),
    states.map((s) => s.firstReceivedAt),
    states.map((s) => s.lastReceivedAt),
    states.map((s) => s.eventCount),
    states.map((s) => s.anomalies.length),
    states.map((s) => JSON.stringify(s)),
    states.map((s) => dialectsOf(s).join(',')),
    states.map((s) => pgText(s.environment ?? null)),
  ];
}

/**
 * Changes one transaction's lifecycle in the caller's transaction: locks its row (by its key,
 * rows.ts transactionColumn), applies `change` and writes the result back. Nothing happens when
 * the transaction does not exist.
 */
export async function updateLifecycle(
  client: pg.PoolClient,
  key: string,
  change: (state: TransactionLifecycle) => TransactionLifecycle,
): Promise<void> {
  const row = await client.query<{ state: TransactionLifecycle }>(
    'SELECT state FROM transactions WHERE docv_transaction_id = $1 FOR UPDATE',
    [pgText(key)],
  );
  const state = row.rows[0]?.state;
  if (!state) return;
  const values = transactionColumns([change(state)], [key]).map((c) => (c as unknown[])[0]);
  await client.query(
    `UPDATE transactions SET status = $2, decision = $3, customer_user_id = $4, first_event_at = $5, last_event_at = $6,
       first_received_at = $7, last_received_at = $8, event_count = $9, anomaly_count = $10, state = $11,
       dialects = ${DIALECTS_OF('$12::text')}, environment = $13
     WHERE docv_transaction_id = $1`,
    values,
  );
}
