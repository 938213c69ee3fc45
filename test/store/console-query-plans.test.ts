import Database from 'better-sqlite3';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { ClaimedDelivery } from '../../src/store/index.js';
import { scratchStores, skipUnavailable, testBackends, type Backend } from '../helpers/backends.js';
import { ingestInput } from '../helpers/ingest-input.js';
import { uniqueId } from '../helpers/canonical-events.js';
import { docvEvent } from '../helpers/receiver.js';

/**
 * Every query behind the operations console walks an index: each statement a console call runs is
 * recorded as the driver gets it, then explained on the same database (SQLite: EXPLAIN QUERY PLAN;
 * PostgreSQL: EXPLAIN with sequential scans priced out, so a plan that still has one has no index
 * to use). None may scan events, transactions, deliveries or delivery_attempts whole, and the
 * transaction list must come out of its index in order (no sort of the matches).
 */
const backends = await testBackends();

const BIG_TABLES = ['events', 'transactions', 'deliveries', 'delivery_attempts'];

interface Recorded {
  sql: string;
  params: unknown[];
}

/** Records the SQL of every better-sqlite3 statement run (get/all) while `fn` runs. */
async function recordSqlite(fn: () => Promise<unknown>): Promise<Recorded[]> {
  const statementProto = Object.getPrototypeOf(new Database(':memory:').prepare('SELECT 1')) as {
    all: (...p: unknown[]) => unknown;
    get: (...p: unknown[]) => unknown;
  };
  const { all, get } = statementProto;
  const out: Recorded[] = [];
  statementProto.all = function (this: Database.Statement, ...params: unknown[]) {
    out.push({ sql: this.source, params });
    return all.apply(this, params);
  };
  statementProto.get = function (this: Database.Statement, ...params: unknown[]) {
    out.push({ sql: this.source, params });
    return get.apply(this, params);
  };
  try {
    await fn();
  } finally {
    statementProto.all = all;
    statementProto.get = get;
  }
  return out;
}

/** Records the text and values of every pg query run while `fn` runs, with a client to explain them on. */
async function recordPostgres(fn: () => Promise<unknown>): Promise<{ queries: Recorded[]; client: pg.Client | null }> {
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const query = proto.query;
  const queries: Recorded[] = [];
  const clients = new Set<pg.Client>();
  proto.query = function (this: pg.Client, ...args: unknown[]) {
    const [text, values] = args;
    if (typeof text === 'string') queries.push({ sql: text, params: Array.isArray(values) ? values : [] });
    clients.add(this);
    return query.apply(this, args);
  };
  try {
    await fn();
  } finally {
    proto.query = query;
  }
  return { queries, client: [...clients][0] ?? null };
}

/** Tables small by nature (one row per destination) and CTEs, which a plan may scan. */
const SMALL = new Set(['destination_cursors', 'c', 'cursor_marks', 'destinations', 'names']);

/**
 * The plan lines that scan a table whole: SQLite's bare `SCAN t` (a `SCAN t USING INDEX` walks in
 * the index's order and stops at the LIMIT), and a sort of the list's matches.
 */
function sqliteFullScans(db: Database.Database, r: Recorded): string[] {
  const plan = db
    .prepare<unknown[], { detail: string }>(`EXPLAIN QUERY PLAN ${r.sql}`)
    .all(...r.params)
    .map((row) => row.detail);
  const scans = plan.filter((line) => {
    const m = /^SCAN (\w+)$/.exec(line);
    return m !== null && !SMALL.has(m[1]!);
  });
  const sorted =
    /ORDER BY last_received_at DESC/.test(r.sql) && !/docv_transaction_id IN/.test(r.sql)
      ? plan
          .filter((line) => line.includes('TEMP B-TREE'))
          .map((l) => `${l} (the list must come out of its index in order)`)
      : [];
  return [...scans, ...sorted];
}

describe.each(backends)('store: console query plans ($name)', (backend: Backend) => {
  if (skipUnavailable(backend)) return;
  const open = scratchStores(backend);

  it('every console query uses an index and scans no big table whole', async () => {
    const { store, db } = await open();
    store.configureOutbox({ destinations: ['sink'] });
    const txs: string[] = [];
    let eventId = '';
    for (let i = 0; i < 60; i++) {
      const tx = uniqueId('plan');
      txs.push(tx);
      const outcome = await store.ingest({
        ...ingestInput(
          docvEvent({
            docvTransactionId: tx,
            customerUserId: `cust-${i % 7}`,
            ...(i % 3 === 0 ? { eventType: 'VERIFICATION_COMPLETED', decision: i % 2 ? 'accept' : 'reject' } : {}),
          }),
        ),
        receivedAt: new Date(Date.now() - (60 - i) * 1000),
      });
      eventId = outcome.eventId;
    }
    const claimed: ClaimedDelivery[] = await store.claimDeliveries({
      workerId: 'w1',
      limit: 20,
      leaseMs: 60_000,
      destinations: ['sink'],
      ordered: false,
    });
    for (const [i, d] of claimed.entries())
      await store.completeDelivery({
        deliveryId: d.deliveryId,
        workerId: 'w1',
        outcome: i % 4 === 0 ? 'failed' : 'delivered',
        status: i % 4 === 0 ? 500 : 200,
        error: i % 4 === 0 ? 'HTTP 500' : null,
        startedAt: new Date(),
        durationMs: 1,
        ...(i % 4 === 0 ? { nextAttemptAt: Date.now() + 60_000 } : {}),
      });

    const hourAgo = new Date(Date.now() - 3_600_000);
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['list', () => store.listTransactions({ limit: 50 })],
      [
        'list, next page',
        async () => {
          const first = await store.listTransactions({ limit: 5 });
          return store.listTransactions({ limit: 5, cursor: first.nextCursor! });
        },
      ],
      ['status', () => store.listTransactions({ limit: 50, status: 'VERIFICATION_COMPLETED' })],
      ['decision', () => store.listTransactions({ limit: 50, decision: 'accept' })],
      ['anomaly any', () => store.listTransactions({ limit: 50, anomaly: 'any' })],
      ['anomaly code', () => store.listTransactions({ limit: 50, anomaly: 'customer_user_id_changed' })],
      ['dialect', () => store.listTransactions({ limit: 50, dialect: 'asyncapi' })],
      ['environment', () => store.listTransactions({ limit: 50, environment: 'Production' })],
      ['from/to', () => store.listTransactions({ limit: 50, from: hourAgo, to: new Date() })],
      ['search', () => store.listTransactions({ limit: 50, search: txs[3]!.slice(0, 8) })],
      ['search event id', () => store.listTransactions({ limit: 50, search: eventId })],
      ['count', () => store.countTransactions({ status: 'VERIFICATION_COMPLETED' }, 1000)],
      ['count search', () => store.countTransactions({ search: 'cust-1' }, 1000)],
      ['receipt counts', () => store.receiptCounts(hourAgo, new Date(), 60_000)],
      ['deliveries by event', () => store.listDeliveries({ limit: 50, eventId })],
      ['deliveries by time', () => store.listDeliveries({ limit: 50, from: hourAgo, state: 'failed' })],
      ['count replay', () => store.countReplay({ state: 'failed' })],
      ['count replay of a destination', () => store.countReplay({ destination: 'sink', state: 'delivered' })],
      ['count replay of a transaction', () => store.countReplay({ docvTransactionId: txs[0]! })],
      ['per-destination counts', () => store.deliveryCountsByDestination()],
      ['destination health', () => store.destinationHealth(hourAgo)],
    ];

    const problems: string[] = [];
    let explained = 0;
    for (const [name, call] of calls) {
      if (db.backend === 'sqlite') {
        const recorded = await recordSqlite(call);
        const reader = new Database(db.path!, { readonly: true });
        try {
          for (const r of recorded) {
            explained++;
            for (const line of sqliteFullScans(reader, r)) problems.push(`${name}: ${line}\n  ${r.sql}`);
          }
        } finally {
          reader.close();
        }
      } else {
        const { queries, client } = await recordPostgres(call);
        if (!client) continue;
        await client.query('SET enable_seqscan = off');
        try {
          for (const q of queries) {
            if (!/^\s*(SELECT|WITH)/i.test(q.sql)) continue;
            explained++;
            const plan = (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${q.sql}`, q.params)).rows
              .map((r) => r['QUERY PLAN'])
              .join('\n');
            for (const t of BIG_TABLES)
              if (new RegExp(`Seq Scan on ${t}\\b`).test(plan)) problems.push(`${name}: Seq Scan on ${t}\n  ${q.sql}`);
          }
        } finally {
          await client.query('RESET enable_seqscan');
        }
      }
    }
    expect(explained).toBeGreaterThan(calls.length);
    expect(problems).toEqual([]);
  });
});
