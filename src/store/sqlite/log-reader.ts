import type Database from 'better-sqlite3';
import type { Sealer } from '../encryption/sealer.js';
import { decisionFetchFor } from '../../lifecycle/decision-fetch-rule.js';
import {
  cursorLeaseMs,
  cursorOf,
  logDeliveryId,
  MARK_EVERY_MS,
  LogReading,
  MAX_READ_WINDOW,
  verdictFor,
  type DestinationCursor,
} from '../log-outbox.js';
import { canonicalOfRow, clipText, metadataOf, transactionOfColumn, type EventSummaryRow } from '../rows.js';
import { DECISION_FETCH_DESTINATION, type AttemptResult, type ClaimRequest, type ClaimedDelivery } from '../types.js';
import { subscribes, subscriptionOfColumn, type OutboxTargets, type Subscription } from '../destinations.js';

interface CursorRow {
  destination: string;
  from_seq: number;
  seq: number;
  until_seq: number | null;
  lease_owner: string | null;
  lease_until: number | null;
  updated_at: string;
}

interface LogRow extends Pick<EventSummaryRow, 'canonical' | 'docv_transaction_id' | 'source'> {
  seq: number;
  event_id: string;
  event_type: string;
  received_at: string;
}

/** A delivery handed out from the log, until its attempt is recorded. */
interface HandedOut {
  destination: string;
  seq: number;
  eventId: string;
  docvTransactionId: string;
  eventType: string;
  receivedAt: string;
  /** How long a completion renews the worker's hold on the destination. */
  leaseMs: number;
}

/**
 * The log side of the SQLite outbox (store/log-outbox.ts): hands out the events past each
 * destination's cursor and records their attempts. Runs in the store's write queue, like the rest
 * of the outbox, so a claim and a completion are each part of a group commit.
 *
 * What a worker has in flight lives here, in memory: after a failed commit or a restart it is
 * forgotten and the next reader starts again at the committed cursor (at least once).
 */
export class SqliteLogReader {
  private readonly stmts;
  private readonly readings = new Map<string, LogReading>();
  private readonly handedOut = new Map<string, HandedOut>();
  private readonly lastMark = new Map<string, number>();

  constructor(
    db: Database.Database,
    private readonly sealer: Sealer,
  ) {
    this.stmts = {
      cursors: db.prepare<[], CursorRow>('SELECT * FROM destination_cursors'),
      head: db.prepare<[], { head: number | null }>('SELECT MAX(seq) AS head FROM events'),
      ensure: db.prepare<[string, number, number, string]>(
        'INSERT INTO destination_cursors (destination, from_seq, seq, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (destination) DO UPDATE SET until_seq = NULL',
      ),
      retire: db.prepare<[number, string]>(
        'UPDATE destination_cursors SET until_seq = ? WHERE destination = ? AND until_seq IS NULL',
      ),
      disabled: db.prepare<[], { name: string }>("SELECT name FROM destinations WHERE state <> 'active'"),
      // What a claim needs of the stored destinations: which are paused, which take only some events.
      notEveryEvent: db.prepare<[], { name: string; state: string; subscription: string | null }>(
        "SELECT name, state, subscription FROM destinations WHERE state <> 'active' OR subscription IS NOT NULL",
      ),
      lease: db.prepare<[string, number, number, string, string]>(
        'UPDATE destination_cursors SET lease_owner = ?, lease_until = ?, seq = ?, updated_at = ? WHERE destination = ?',
      ),
      move: db.prepare<[number, number, string, string, string]>(
        'UPDATE destination_cursors SET seq = ?, lease_until = ?, updated_at = ? WHERE destination = ? AND lease_owner = ?',
      ),
      release: db.prepare<[string]>('UPDATE destination_cursors SET lease_until = 0 WHERE lease_owner = ?'),
      mark: db.prepare<[string, number, string]>(
        'INSERT INTO cursor_marks (destination, seq, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
      ),
      // Without the body: a read goes past events handled already and past those passed over;
      // only the ones handed out need theirs (bodyOf).
      bodyOf: db.prepare<[number], { raw_body: Buffer; key_id: string | null }>(
        'SELECT raw_body, key_id FROM events WHERE seq = ?',
      ),
      after: db.prepare<[number, number], LogRow>(
        `SELECT seq, event_id, docv_transaction_id, source, event_type, received_at, canonical
           FROM events WHERE seq > ? ORDER BY seq LIMIT ?`,
      ),
      openRow: db.prepare<[string, string], { one: number }>(
        "SELECT 1 AS one FROM deliveries WHERE docv_transaction_id = ? AND destination = ? AND state IN ('pending', 'failed') LIMIT 1",
      ),
      fetchOf: db.prepare<[number], { delivery_id: string; state: string }>(
        `SELECT delivery_id, state FROM deliveries WHERE event_seq = ? AND destination = '${DECISION_FETCH_DESTINATION}'`,
      ),
      insert: db.prepare(
        `INSERT INTO deliveries (delivery_id, event_seq, event_id, docv_transaction_id, event_type, destination, state,
           attempts, next_attempt_at, waits_for, wait_until, last_status, last_error, created_at, updated_at)
         SELECT @deliveryId, @eventSeq, @eventId, @docvTransactionId, @eventType, @destination, @state,
           @attempts, @nextAttemptAt, @waitsFor, @waitUntil, @lastStatus, @lastError, @createdAt, @now
         -- An event erased (purge) while its first attempt was in flight has no row to keep: without
         -- this the foreign key fails the whole group commit.
         WHERE EXISTS (SELECT 1 FROM events WHERE seq = @eventSeq)
         ON CONFLICT (delivery_id) DO NOTHING`,
      ),
      attempt: db.prepare(
        `INSERT INTO delivery_attempts (delivery_id, destination, attempt, worker, started_at, duration_ms, outcome, status, error)
         VALUES (@deliveryId, @destination, 1, @worker, @startedAt, @durationMs, @outcome, @status, @error)`,
      ),
    };
  }

  cursors(): DestinationCursor[] {
    return this.stmts.cursors.all().map(cursorOf);
  }

  /** Log destinations not read yet start after the last event: what came before is not theirs. */
  ensureCursors(destinations: readonly string[]): void {
    if (destinations.length === 0) return;
    const head = this.stmts.head.get()?.head ?? 0;
    const now = new Date().toISOString();
    for (const d of destinations) this.stmts.ensure.run(d, head, head, now);
  }

  /**
   * Destinations of this process that it no longer has (a library's handlers registered after the
   * catch-all): the events accepted from now on are not theirs. What they had stays theirs.
   */
  retireCursors(destinations: readonly string[]): void {
    if (destinations.length === 0) return;
    const head = this.stmts.head.get()?.head ?? 0;
    for (const d of destinations) this.stmts.retire.run(head, d);
  }

  /** Forgets what is in flight: after a commit failed, the committed cursor is the truth. */
  forget(): void {
    this.readings.clear();
    this.handedOut.clear();
    this.moved.clear();
  }

  /** A stopping worker lets go of its destinations at once instead of when its hold runs out. */
  release(workerId: string): void {
    this.stmts.release.run(workerId);
    for (const [destination, reading] of this.readings)
      if (reading.owner === workerId) this.readings.delete(destination);
    for (const [id, out] of this.handedOut) if (!this.readings.has(out.destination)) this.handedOut.delete(id);
  }

  /**
   * Up to `limit` deliveries from the logs of the requested destinations this worker holds (or
   * can take over). Events that must wait get a row instead (see verdictFor) and are passed.
   */
  claim(request: ClaimRequest, limit: number, targets: OutboxTargets, now: number): ClaimedDelivery[] {
    const out: ClaimedDelivery[] = [];
    if (limit <= 0) return out;
    const cursors = new Map(this.stmts.cursors.all().map((row) => [row.destination, row]));
    if (cursors.size === 0) return out;
    const paused = new Set<string>();
    const subscriptions = new Map<string, Subscription>();
    for (const r of this.stmts.notEveryEvent.all()) {
      if (r.state !== 'active') paused.add(r.name);
      const subscription = subscriptionOfColumn(r.subscription);
      if (subscription) subscriptions.set(r.name, subscription);
    }
    const nowIso = new Date(now).toISOString();
    const leaseUntil = now + cursorLeaseMs(request.leaseMs);
    for (const destination of request.destinations) {
      if (out.length >= limit) break;
      const row = cursors.get(destination);
      if (!row || paused.has(destination)) continue;
      const heldByOther =
        row.lease_owner !== null && row.lease_owner !== request.workerId && (row.lease_until ?? 0) >= now;
      if (heldByOther) continue;
      const subscription = subscriptions.get(destination);
      let reading = this.readings.get(destination);
      if (!reading || reading.owner !== request.workerId || row.lease_owner !== request.workerId) {
        reading = new LogReading(destination, request.workerId, row.seq);
        this.readings.set(destination, reading);
        for (const [id, h] of this.handedOut) if (h.destination === destination) this.handedOut.delete(id);
      }
      // In batches of what is still wanted, from readTo: events handled after one passed over
      // (deferred) are read again and skipped; a full window ends this destination's turn.
      reading.beginPass();
      let from = reading.readTo;
      let stopped = false;
      for (let batch = 0; batch < 64 && !stopped && out.length < limit; batch++) {
        const want = limit - out.length;
        if (reading.window >= MAX_READ_WINDOW) break;
        const events = this.stmts.after.all(from, want + reading.window);
        if (events.length === 0) break;
        from = events[events.length - 1]!.seq;
        for (const event of events) {
          if (out.length >= limit) {
            stopped = true;
            break;
          }
          if (row.until_seq !== null && event.seq > row.until_seq) {
            stopped = true;
            break;
          }
          if (reading.handled(event.seq)) {
            reading.note(event.seq);
            continue;
          }
          // Not an event its subscription takes (issue 20): passed over, as handled, so the
          // cursor moves past it; no delivery, no row, no attempt.
          if (subscription && !subscribes(subscription, { source: event.source, eventType: event.event_type })) {
            reading.skip(event.seq);
            continue;
          }
          const entry = { seq: event.seq, docvTransactionId: event.docv_transaction_id };
          let waitsFor: { id: string; until: number } | null = null;
          const verdict = verdictFor(
            reading,
            entry,
            request.ordered,
            () => this.stmts.openRow.get(event.docv_transaction_id, destination) !== undefined,
            () => (waitsFor = this.decisionWait(event, targets, now)) !== null,
          );
          if (verdict === 'defer') {
            reading.defer(entry);
            continue;
          }
          if (verdict === 'materialize') {
            const wait = waitsFor as { id: string; until: number } | null;
            this.insertRow(event, destination, {
              state: 'pending',
              attempts: 0,
              nextAttemptAt: now,
              waitsFor: wait?.id ?? null,
              waitUntil: wait?.until ?? null,
              now: nowIso,
            });
            reading.skip(event.seq);
            continue;
          }
          reading.handOut(entry);
          const stored = this.stmts.bodyOf.get(event.seq)!;
          const body = this.sealer.openBytes(stored.raw_body, stored.key_id, 'events', 'raw_body', event.event_id);
          const canonical = canonicalOfRow(JSON.parse(body.toString('utf8')) as unknown, event);
          const deliveryId = logDeliveryId(event.event_id, destination);
          this.handedOut.set(deliveryId, {
            destination,
            seq: event.seq,
            eventId: event.event_id,
            docvTransactionId: event.docv_transaction_id,
            eventType: event.event_type,
            receivedAt: event.received_at,
            leaseMs: cursorLeaseMs(request.leaseMs),
          });
          out.push({
            deliveryId,
            eventId: event.event_id,
            docvTransactionId: canonical.docvTransactionId,
            source: event.source,
            eventType: event.event_type,
            destination,
            state: 'pending',
            attempts: 0,
            nextAttemptAt: event.received_at,
            lastStatus: null,
            lastError: null,
            createdAt: event.received_at,
            updatedAt: event.received_at,
            deliveredAt: null,
            event: canonical,
            receivedAt: event.received_at,
            fetchedDecision: null,
          });
        }
      }
      // The hold is written when it changes hands, when half of it has passed, or when events
      // were passed with nothing in flight (no completion would move the cursor past them): not
      // on every claim, which would write the cursor's page into the log each time.
      const renew =
        row.lease_owner !== request.workerId ||
        (row.lease_until ?? 0) - now < cursorLeaseMs(request.leaseMs) / 2 ||
        (reading.size === 0 && reading.cursor() !== row.seq);
      if (renew) this.stmts.lease.run(request.workerId, leaseUntil, reading.cursor(), nowIso, destination);
    }
    return out;
  }

  /**
   * A completion's delivery waits for its decision fetch while the fetch is still to be made and
   * the wait has not run out: it gets a row saying what it waits for (as a row of an earlier
   * version did from the start).
   */
  private decisionWait(event: LogRow, targets: OutboxTargets, now: number): { id: string; until: number } | null {
    if (!targets.fetchDecisions) return null;
    const subject = {
      eventType: event.event_type,
      docvTransactionId: transactionOfColumn(event.docv_transaction_id, event.source),
      test: metadataOf(event)?.test ?? false,
    };
    if (decisionFetchFor(subject) !== 'fetch-and-wait') return null;
    const until = Date.parse(event.received_at) + targets.decisionWaitMs;
    if (until <= now) return null;
    const fetch = this.stmts.fetchOf.get(event.seq);
    if (!fetch || (fetch.state !== 'pending' && fetch.state !== 'failed')) return null;
    return { id: fetch.delivery_id, until };
  }

  /**
   * When the logs of these destinations next need `workerId` to look: when another worker's hold
   * on one with events waiting runs out; null otherwise (see below).
   */
  dueAt(destinations: readonly string[], workerId: string | undefined, now: number): number | null {
    const wanted = new Set(destinations);
    const cursors = this.stmts.cursors.all().filter((c) => wanted.has(c.destination));
    if (cursors.length === 0) return null;
    const head = this.stmts.head.get()?.head ?? 0;
    const paused = new Set(this.stmts.disabled.all().map((r) => r.name));
    let due: number | null = null;
    for (const c of cursors) {
      if (c.seq >= Math.min(head, c.until_seq ?? head) || paused.has(c.destination)) continue;
      const held = c.lease_owner !== null && c.lease_owner !== workerId && (c.lease_until ?? 0) >= now;
      // Free or ours: the dispatcher claims the log when woken (an accepted event, a finished
      // attempt) and again while its claims come back full, so "now" here would only make it spin
      // while its last completions wait for their commit. Another worker's hold: due when it runs out.
      if (!held) continue;
      const at = c.lease_until! + 1;
      due = due === null ? at : Math.min(due, at);
    }
    return due;
  }

  /** Whether `deliveryId` is a delivery this reader handed out (and still tracks). */
  owns(deliveryId: string): boolean {
    return this.handedOut.has(deliveryId);
  }

  /**
   * Records the attempt of a delivery handed out from the log: delivered, it only lets the cursor
   * move; failed or dead, it gets its row (and its first attempt) so retries and the dead-letter
   * list work as for any row. False when the worker no longer holds the destination.
   */
  complete(result: AttemptResult): boolean {
    const out = this.handedOut.get(result.deliveryId);
    if (!out) return false;
    const reading = this.readings.get(out.destination);
    if (!reading || reading.owner !== result.workerId || !reading.has(out.seq)) return false;
    const now = Date.now();
    const nowIso = new Date(now).toISOString();
    if (result.outcome !== 'delivered') {
      this.insertRow(
        {
          seq: out.seq,
          event_id: out.eventId,
          docv_transaction_id: out.docvTransactionId,
          event_type: out.eventType,
          received_at: out.receivedAt,
        },
        out.destination,
        {
          state: result.outcome,
          attempts: 1,
          nextAttemptAt: result.nextAttemptAt ?? now,
          waitsFor: null,
          waitUntil: null,
          lastStatus: result.status,
          lastError: clipText(result.error),
          now: nowIso,
        },
        result.deliveryId,
      );
      this.stmts.attempt.run({
        deliveryId: result.deliveryId,
        destination: out.destination,
        worker: result.workerId,
        startedAt: result.startedAt.toISOString(),
        durationMs: result.durationMs,
        outcome: result.outcome,
        status: result.status,
        error: clipText(result.error),
      });
    }
    reading.finish(out.seq);
    this.handedOut.delete(result.deliveryId);
    // Written once at the end of the commit (flushCursors), however many attempts it records.
    this.moved.set(out.destination, { workerId: result.workerId, leaseMs: out.leaseMs });
    return true;
  }

  /** Destinations whose cursor this commit's completions moved, with the worker that holds them. */
  private readonly moved = new Map<string, { workerId: string; leaseMs: number }>();

  /** Last in each commit: one cursor write per destination its completions moved (and the hold renewed). */
  flushCursors(): void {
    if (this.moved.size === 0) return;
    const now = Date.now();
    const nowIso = new Date(now).toISOString();
    for (const [destination, { workerId, leaseMs }] of this.moved) {
      const reading = this.readings.get(destination);
      if (!reading || reading.owner !== workerId) continue;
      const cursor = reading.cursor();
      this.stmts.move.run(cursor, now + leaseMs, nowIso, destination, workerId);
      if (now - (this.lastMark.get(destination) ?? 0) >= MARK_EVERY_MS) {
        this.lastMark.set(destination, now);
        this.stmts.mark.run(destination, cursor, nowIso);
      }
    }
    this.moved.clear();
  }

  private insertRow(
    event: Pick<LogRow, 'seq' | 'event_id' | 'docv_transaction_id' | 'event_type' | 'received_at'>,
    destination: string,
    fields: {
      state: string;
      attempts: number;
      nextAttemptAt: number;
      waitsFor: string | null;
      waitUntil: number | null;
      lastStatus?: number | null;
      lastError?: string | null;
      now: string;
    },
    deliveryId = logDeliveryId(event.event_id, destination),
  ): void {
    this.stmts.insert.run({
      deliveryId,
      eventSeq: event.seq,
      eventId: event.event_id,
      docvTransactionId: event.docv_transaction_id,
      eventType: event.event_type,
      destination,
      state: fields.state,
      attempts: fields.attempts,
      nextAttemptAt: fields.nextAttemptAt,
      waitsFor: fields.waitsFor,
      waitUntil: fields.waitUntil,
      lastStatus: fields.lastStatus ?? null,
      lastError: fields.lastError ?? null,
      createdAt: event.received_at,
      now: fields.now,
    });
  }
}
