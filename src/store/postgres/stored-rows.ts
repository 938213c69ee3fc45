import { canonicalFromStored, type CanonicalEvent } from '../../contract/index.js';
import { canonicalOfRow, metadataOf, type EventSummaryRow } from '../rows.js';
import { pgText } from './pg-text.js';

/**
 * The canonical event of a stored row, filed under the row's transaction as on SQLite
 * (rows.ts, canonicalOfRow). One difference to undo: PostgreSQL text holds no U+0000, so the
 * column has U+FFFD where the sender's transaction id had it (pgText); the event then reads back
 * with the id as the sender spelled it. Checked only when the column has a U+FFFD at all.
 */
export function storedEvent(
  payload: unknown,
  row: Pick<EventSummaryRow, 'canonical' | 'docv_transaction_id' | 'source'>,
): CanonicalEvent {
  const event = canonicalOfRow(payload, row);
  if (!event.docvTransactionId?.includes('\uFFFD')) return event;
  const sent = canonicalFromStored(payload, metadataOf(row)).docvTransactionId;
  if (sent !== null && pgText(sent) === event.docvTransactionId) event.docvTransactionId = sent;
  return event;
}
