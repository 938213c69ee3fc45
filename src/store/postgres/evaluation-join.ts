import type pg from 'pg';
import type { Sealer } from '../encryption/sealer.js';
import { canonicalFromStored, type CanonicalEvent, type CanonicalFields } from '../../contract/index.js';
import { lifecycleEventOf, type LifecycleEvent } from '../../lifecycle/index.js';
import { SOURCE_SEPARATOR, transactionColumn, transactionOfColumn } from '../rows.js';
import { pgText } from './pg-text.js';

/**
 * RiskOS sends DocV progress as `case_notes_added`, which names the evaluation (`eval_id`) but not
 * the DocV transaction; only some events of the evaluation carry the transaction token. A note is
 * filed under the transaction its evaluation is already linked to; a note that comes before any
 * link is stored without a transaction ('') and moved under it when the link arrives. Everything
 * here runs only for batches that hold an event with an evaluation id: the flat path never pays.
 *
 * A note and its link in the same batch take the second way (the link moves the note just
 * inserted): whether the link is accepted, rather than a duplicate or a conflict, is only known
 * once the batch is inserted, and a rejected delivery must not file anything.
 *
 * Links stay within a source (issue 20): two Socure accounts' evaluation ids are theirs alone, so a
 * note is filed only under a transaction of its own source, and a link moves only that source's
 * notes.
 */

/** An event of the batch and the source it came through. */
export interface SourcedEvent {
  event: CanonicalEvent;
  source: string;
}

/** Whether an event takes part in the join: it names an evaluation and is not a test event. */
function joins(event: CanonicalEvent): event is CanonicalEvent & { evaluationId: string } {
  return event.evaluationId !== undefined && !event.test;
}

/** A note: an event of an evaluation that does not say which transaction it belongs to. */
function isNote(event: CanonicalEvent): event is CanonicalEvent & { evaluationId: string } {
  return joins(event) && event.docvTransactionId === null;
}

/**
 * Serialises the join per evaluation across instances: without it, a note stored while another
 * instance commits the link would see no link, and the link would not see the uncommitted note,
 * leaving the note unfiled for ever. A transaction-scoped advisory lock, taken in sorted order (so
 * two batches cannot deadlock on each other), held until the commit. Keyed by schema too, so that
 * tenants or test schemas sharing a database do not queue on each other.
 */
const LOCK_EVALUATIONS = {
  name: 'docv_lock_evaluations',
  text: `SELECT pg_advisory_xact_lock(hashtextextended('docv-webhooks:evaluation:' || current_schema() || ':' || e, 0))
         FROM unnest($1::text[]) AS e`,
};

/**
 * The transaction each evaluation was first linked to in each source (the earliest linked event
 * wins). The evaluation index finds the rows; the source is tested on them.
 */
const LINKED_TRANSACTIONS = {
  name: 'docv_linked_transactions_v2',
  text: `SELECT DISTINCT ON (evaluation_id, source) evaluation_id, source, docv_transaction_id FROM events
         WHERE evaluation_id = ANY($1::text[]) AND source = ANY($2::text[]) AND docv_transaction_id <> ''
         ORDER BY evaluation_id, source, seq`,
};

/**
 * Moves the events stored without a transaction (and their deliveries) under the transaction
 * their evaluation is now linked to, and answers them so their lifecycle can be folded in. Test
 * events keep '' whatever they name: they are never part of a transaction. (A text search, not
 * `canonical->>'test'`: PostgreSQL's JSON operators refuse a whole document that holds \u0000 or
 * a lone surrogate anywhere, and senders choose what is in customerUserId.)
 */
const MOVE_UNFILED = {
  name: 'docv_move_unfiled_v3',
  text: `WITH moved AS (
           UPDATE events e SET docv_transaction_id = m.tx
           FROM unnest($1::text[], $2::text[], $3::text[]) AS m(evaluation_id, source, tx)
           WHERE e.evaluation_id = m.evaluation_id AND e.source = m.source AND e.docv_transaction_id = ''
             AND strpos(e.canonical::text, '"test":true') = 0
           RETURNING e.seq, e.event_id, e.docv_transaction_id, e.source, e.raw_body, e.key_id, e.canonical, e.received_at
         ), requeued AS (
           UPDATE deliveries d SET docv_transaction_id = moved.docv_transaction_id FROM moved WHERE d.event_seq = moved.seq
         )
         SELECT seq, event_id, docv_transaction_id, source, raw_body, key_id, canonical, received_at FROM moved`,
};

/** `<source>\u001f<evaluation id>` (linkOf) → the transaction key its events are filed under. */
export type EvaluationLinks = ReadonlyMap<string, string>;

/** An evaluation of one source, as EvaluationLinks names it (a source name holds no separator). */
function linkOf(source: string, evaluationId: string): string {
  return `${source}${SOURCE_SEPARATOR}${pgText(evaluationId)}`;
}

/**
 * Locks the evaluations of the batch and finds the transaction each note's evaluation is already
 * linked to. Null when no event of the batch has an evaluation id (no round trip at all).
 */
export async function linkEvaluations(
  client: pg.PoolClient,
  events: readonly SourcedEvent[],
): Promise<EvaluationLinks | null> {
  // Locked by evaluation id alone: batches of two sources naming the same id wait on each other,
  // which is rare and changes nothing else.
  const evaluations = [
    ...new Set(events.filter((e) => joins(e.event)).map((e) => pgText(e.event.evaluationId!))),
  ].sort();
  if (evaluations.length === 0) return null;
  await client.query({ ...LOCK_EVALUATIONS, values: [evaluations] });
  const links = new Map<string, string>();
  // Only notes need to know an earlier link; a batch of links alone skips the lookup.
  const notes = events.filter((e) => isNote(e.event));
  if (notes.length > 0) {
    const wanted = new Set(notes.map((e) => linkOf(e.source, e.event.evaluationId!)));
    const { rows } = await client.query<{ evaluation_id: string; source: string; docv_transaction_id: string }>({
      ...LINKED_TRANSACTIONS,
      values: [[...new Set(notes.map((e) => pgText(e.event.evaluationId!)))], [...new Set(notes.map((e) => e.source))]],
    });
    for (const r of rows) {
      const link = linkOf(r.source, r.evaluation_id);
      if (wanted.has(link)) links.set(link, r.docv_transaction_id);
    }
  }
  return links;
}

/**
 * The event as filed: a note of an evaluation linked in its source gets that transaction's id;
 * every other event is returned as it is.
 */
export function fileEvent(event: CanonicalEvent, source: string, links: EvaluationLinks | null): CanonicalEvent {
  if (links === null || !isNote(event)) return event;
  const linked = links.get(linkOf(source, event.evaluationId));
  return linked === undefined ? event : { ...event, docvTransactionId: transactionOfColumn(linked, source) };
}

/** Where an event is filed: test events and unlinked notes under no transaction. */
export function transactionOf(event: CanonicalEvent): string | null {
  return event.test ? null : event.docvTransactionId;
}

/** An event moved under a transaction, as its lifecycle folds it in. */
export interface MovedEvent {
  seq: number;
  /** The transaction key, as stored. */
  key: string;
  source: string;
  /** The transaction id (the key without its source). */
  docvTransactionId: string;
  event: LifecycleEvent;
}

/**
 * Files the unfiled events of the evaluations that `linking` (accepted events that name both a
 * transaction and an evaluation) link, in the caller's transaction: earlier ones, and notes of the
 * batch itself. Must run after the batch's events are inserted and under the locks of
 * linkEvaluations. An evaluation already linked keeps its first transaction.
 */
export async function moveUnfiledEvents(
  client: pg.PoolClient,
  linking: readonly SourcedEvent[],
  links: EvaluationLinks,
  sealer: Sealer,
): Promise<MovedEvent[]> {
  const targets = new Map<string, { evaluation: string; source: string; key: string }>();
  for (const { event: e, source } of linking) {
    if (!joins(e) || e.docvTransactionId === null) continue;
    const link = linkOf(source, e.evaluationId);
    targets.set(link, {
      evaluation: pgText(e.evaluationId),
      source,
      key: pgText(links.get(link) ?? transactionColumn(e.docvTransactionId, source)),
    });
  }
  if (targets.size === 0) return [];
  const moves = [...targets.values()];
  const { rows } = await client.query<{
    seq: number;
    event_id: string;
    docv_transaction_id: string;
    source: string;
    raw_body: Buffer;
    key_id: string | null;
    canonical: CanonicalFields | null;
    received_at: Date;
  }>({
    ...MOVE_UNFILED,
    values: [moves.map((m) => m.evaluation), moves.map((m) => m.source), moves.map((m) => m.key)],
  });
  return rows.map((r) => ({
    seq: r.seq,
    key: r.docv_transaction_id,
    source: r.source,
    docvTransactionId: transactionOfColumn(r.docv_transaction_id, r.source)!,
    event: lifecycleEventOf(
      canonicalFromStored(
        JSON.parse(sealer.openBytes(r.raw_body, r.key_id, 'events', 'raw_body', r.event_id).toString('utf8')),
        r.canonical,
      ),
      r.received_at.toISOString(),
    ),
  }));
}
