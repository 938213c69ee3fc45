import type Database from 'better-sqlite3';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Append-only: a released migration is never edited, a change is a new version. */
export const SQLITE_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'events, transactions, quarantine',
    sql: `
      CREATE TABLE events (
        seq                  INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id             TEXT    NOT NULL UNIQUE,
        dedupe_key           TEXT    NOT NULL UNIQUE,
        delivery_id          TEXT,
        content_hash         TEXT    NOT NULL,
        docv_transaction_id  TEXT    NOT NULL,
        event_type           TEXT    NOT NULL,
        event_time           TEXT    NOT NULL,
        event_time_ms        INTEGER NOT NULL,
        customer_user_id     TEXT,
        decision             TEXT,
        received_at          TEXT    NOT NULL,
        raw_body             BLOB    NOT NULL,
        headers              TEXT    NOT NULL
      );
      CREATE INDEX events_by_transaction ON events (docv_transaction_id, event_time_ms, seq);
      CREATE INDEX events_by_type ON events (event_type, seq);

      CREATE TABLE transactions (
        seq                  INTEGER PRIMARY KEY AUTOINCREMENT,
        docv_transaction_id  TEXT    NOT NULL UNIQUE,
        status               TEXT    NOT NULL,
        decision             TEXT,
        customer_user_id     TEXT,
        first_event_at       TEXT    NOT NULL,
        last_event_at        TEXT    NOT NULL,
        first_received_at    TEXT    NOT NULL,
        last_received_at     TEXT    NOT NULL,
        event_count          INTEGER NOT NULL,
        anomaly_count        INTEGER NOT NULL,
        state                TEXT    NOT NULL
      );
      CREATE INDEX transactions_by_status ON transactions (status, seq);
      CREATE INDEX transactions_by_decision ON transactions (decision, seq);
      CREATE INDEX transactions_by_customer ON transactions (customer_user_id, seq);

      CREATE TABLE quarantine (
        seq            INTEGER PRIMARY KEY AUTOINCREMENT,
        quarantine_id  TEXT    NOT NULL UNIQUE,
        received_at    TEXT    NOT NULL,
        reason         TEXT    NOT NULL,
        status         INTEGER NOT NULL,
        detail         TEXT    NOT NULL,
        headers        TEXT    NOT NULL,
        body           BLOB    NOT NULL,
        body_size      INTEGER NOT NULL
      );
    `,
  },
];

SQLITE_MIGRATIONS.push({
  version: 2,
  name: 'outbox deliveries, attempts, fetched decisions',
  sql: `
    CREATE TABLE deliveries (
      seq                  INTEGER PRIMARY KEY AUTOINCREMENT,
      delivery_id          TEXT    NOT NULL UNIQUE,
      event_seq            INTEGER NOT NULL REFERENCES events (seq),
      event_id             TEXT    NOT NULL,
      docv_transaction_id  TEXT    NOT NULL,
      event_type           TEXT    NOT NULL,
      destination          TEXT    NOT NULL,
      state                TEXT    NOT NULL,
      attempts             INTEGER NOT NULL DEFAULT 0,
      next_attempt_at      INTEGER NOT NULL,
      lease_owner          TEXT,
      lease_until          INTEGER,
      waits_for            TEXT,
      wait_until           INTEGER,
      last_status          INTEGER,
      last_error           TEXT,
      created_at           TEXT    NOT NULL,
      updated_at           TEXT    NOT NULL,
      delivered_at         TEXT
    );
    CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
    CREATE INDEX deliveries_in_order ON deliveries (docv_transaction_id, destination, event_seq);
    CREATE INDEX deliveries_by_event ON deliveries (event_id);
    CREATE INDEX deliveries_by_destination ON deliveries (destination, seq);

    CREATE TABLE delivery_attempts (
      seq          INTEGER PRIMARY KEY AUTOINCREMENT,
      delivery_id  TEXT    NOT NULL,
      attempt      INTEGER NOT NULL,
      worker       TEXT    NOT NULL,
      started_at   TEXT    NOT NULL,
      duration_ms  REAL    NOT NULL,
      outcome      TEXT    NOT NULL,
      status       INTEGER,
      error        TEXT
    );
    CREATE INDEX delivery_attempts_by_delivery ON delivery_attempts (delivery_id, seq);

    CREATE TABLE decisions (
      event_id             TEXT PRIMARY KEY,
      docv_transaction_id  TEXT NOT NULL,
      decision             TEXT NOT NULL,
      reason_codes         TEXT NOT NULL,
      fetched_at           TEXT NOT NULL,
      details              TEXT
    );
  `,
});

SQLITE_MIGRATIONS.push({
  version: 3,
  name: 'dedupe keys of content-keyed events start with their event time',
  // Same formula as ingest/dedupe-key.ts, so a retry of an event stored before this migration
  // still finds it. Keys of delivery ids (`id:`) stay as they are.
  sql: `
    UPDATE events SET dedupe_key = 't:' || printf('%012x', event_time_ms) || ':' || dedupe_key
     WHERE dedupe_key LIKE 'sha256:%' AND event_time_ms BETWEEN 0 AND 281474976710655;
  `,
});

SQLITE_MIGRATIONS.push({
  version: 4,
  name: 'drop deliveries_by_event: no query looks deliveries up by event id',
  // Every outbox row paid for it (one more B-tree page in each commit that inserts one), and
  // nothing read it: deliveries are found by delivery id, by due time, by transaction and
  // destination, or joined to their event by event_seq.
  sql: `DROP INDEX IF EXISTS deliveries_by_event;`,
});

SQLITE_MIGRATIONS.push({
  version: 5,
  name: 'dialects: canonical metadata and evaluation id on events, dialect and reprocessing on quarantine',
  // Only ADD COLUMN, which SQLite does in place (no rewrite of existing rows): upgrading a large
  // database stays instant. docv_transaction_id stays NOT NULL: an event without a transaction (a
  // test event, a RiskOS note not linked yet) stores '' (rows.ts, NO_TRANSACTION), because
  // dropping NOT NULL would mean rebuilding the events and deliveries tables with their indexes,
  // minutes of stopped ingest on a large database.
  //
  // canonical is the canonical fields as JSON (contract/stored-event.ts, storedMetadata), NULL for
  // flat events, so the flat path writes nothing more than before and old rows read back as flat.
  // evaluation_id joins a RiskOS note to its transaction; the index is partial so flat events
  // (nearly all of them) add no entry to it and no page to their commit.
  //
  // decisions.decision_name keeps the decision logic the fetch names (`standard`, `lenient`), so
  // the deliveries that waited for the decision carry it.
  sql: `
    ALTER TABLE events ADD COLUMN canonical TEXT;
    ALTER TABLE events ADD COLUMN evaluation_id TEXT;
    CREATE INDEX events_by_evaluation ON events (evaluation_id, seq) WHERE evaluation_id IS NOT NULL;

    ALTER TABLE quarantine ADD COLUMN dialect TEXT;
    ALTER TABLE quarantine ADD COLUMN reprocessed_at TEXT;
    ALTER TABLE quarantine ADD COLUMN reprocess_outcome TEXT;
    ALTER TABLE quarantine ADD COLUMN reprocess_status INTEGER;
    ALTER TABLE quarantine ADD COLUMN reprocess_event_id TEXT;

    ALTER TABLE decisions ADD COLUMN decision_name TEXT;
    -- A completion's forward carries the decision fetched for the transaction's upload.
    CREATE INDEX decisions_by_transaction ON decisions (docv_transaction_id, fetched_at);
  `,
});

SQLITE_MIGRATIONS.push({
  version: 6,
  name: 'destinations: where events go, shared by every process on the store',
  // A handful of rows, read once per commit that accepts an event (store/sqlite/destinations.ts):
  // the primary key is the only index. Secrets (signing secret, URL user:password, Socure API
  // key) are never stored; signed and url_credentials say that a deliverer needs them.
  sql: `
    CREATE TABLE destinations (
      name             TEXT    PRIMARY KEY,
      kind             TEXT    NOT NULL CHECK (kind IN ('forward', 'decision-fetch')),
      url              TEXT    NOT NULL,
      state            TEXT    NOT NULL CHECK (state IN ('active', 'disabled')),
      signed           INTEGER NOT NULL DEFAULT 0,
      url_credentials  INTEGER NOT NULL DEFAULT 0,
      created_at       TEXT    NOT NULL,
      updated_at       TEXT    NOT NULL
    );
  `,
});

SQLITE_MIGRATIONS.push({
  version: 7,
  name: 'the event log is the outbox: destination cursors instead of a row per event and destination',
  // Issue 18, decision 0012. A forward or handler destination keeps a cursor into the events
  // table (its seq is the log position); `deliveries` keeps only the deliveries that left the
  // happy path (failed, dead, waiting, retried or replayed) and decision fetches. Every row kept
  // before this version stays as it is: each destination starts reading after the last event, so
  // a pending row of an earlier version is delivered from its row, and nothing is delivered twice.
  //
  // cursor_marks: when a cursor passed a position, at most one mark a second per destination, so
  // a delivery read back from the log can say when it was delivered.
  //
  // events_by_type goes: a B-tree write on every accepted event for a filter that walks the log
  // just as well (every type is a fifth to a third of the events). deliveries_by_destination is
  // rebuilt on the event's position, the order the deliveries list now has.
  sql: `
    CREATE TABLE destination_cursors (
      destination  TEXT    PRIMARY KEY,
      from_seq     INTEGER NOT NULL,
      seq          INTEGER NOT NULL,
      until_seq    INTEGER,
      lease_owner  TEXT,
      lease_until  INTEGER,
      updated_at   TEXT    NOT NULL
    );
    CREATE TABLE cursor_marks (
      destination  TEXT    NOT NULL,
      seq          INTEGER NOT NULL,
      at           TEXT    NOT NULL,
      PRIMARY KEY (destination, seq)
    ) WITHOUT ROWID;
    INSERT INTO destination_cursors (destination, from_seq, seq, updated_at)
      SELECT name, (SELECT COALESCE(MAX(seq), 0) FROM events), (SELECT COALESCE(MAX(seq), 0) FROM events),
             strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
        FROM destinations WHERE kind = 'forward';
    DROP INDEX IF EXISTS events_by_type;
    DROP INDEX IF EXISTS deliveries_by_destination;
    CREATE INDEX deliveries_by_destination ON deliveries (destination, event_seq);
    CREATE INDEX deliveries_by_event_seq ON deliveries (event_seq);
  `,
});

SQLITE_MIGRATIONS.push({
  version: 8,
  name: 'operations console: transactions by last activity, filters, duplicates, destination health',
  // Issue 19. Every console page's queries walk an index and stop at a page (or a bound), so a page
  // stays fast at a million events; what each commit that accepts an event now writes on top of
  // version 7 is said beside each index.
  //
  // events.duplicates / last_duplicate_at: ADD COLUMN with a default, in place (old rows read 0 and
  // NULL); only the duplicate path writes them, and no index has them, so an accepted event pays
  // nothing.
  //
  // transactions.dialects (',asyncapi,riskos,': every dialect seen, comma-delimited so that
  // instr(dialects, ',riskos,') finds one and no other) and environment: filters of the list,
  // tested on the rows an index walk brings up, never indexed (no write on any index). Backfilled
  // from the lifecycle JSON (rows.ts, dialectsColumn: a lifecycle from before dialects is asyncapi).
  //
  // Indexes of transactions (an UPDATE rewrites the entry of every index holding a column it SETs,
  // and every event's fold sets last_received_at):
  // - transactions_by_activity (last_received_at, seq): the list, newest activity first, keyset
  //   pages. One more index entry moved per accepted event: the one index the console adds to
  //   every commit.
  // - transactions_by_status (status, last_received_at, seq) replaces (status, seq): the list of
  //   one status in the same order. Version 7 wrote it when the status moved, which most events
  //   do; now on every event of the transaction.
  // - transactions_by_decision (decision, last_received_at, seq) WHERE decision IS NOT NULL
  //   replaces (decision, seq): partial, so only transactions that have a decision (events after
  //   the completion, a fetched decision) write it; the stats count decisions from it, and those
  //   without one as the rest.
  // - transactions_anomalous (last_received_at, seq) WHERE anomaly_count > 0: the anomaly filter
  //   ('any', or a code tested in the JSON of these rows); partial, so normal transactions (nearly
  //   all) never write it.
  // - transactions_by_customer (customer_user_id, seq) stays: search takes at most a few hundred
  //   candidates from it by prefix, and it is written only when the customer changes.
  //
  // delivery_attempts.destination (backfilled from deliveries) and delivery_attempts_by_destination
  // (destination, started_at): a destination's attempts and failures since a time and its last
  // error, for the destinations' health. Attempt records are written on failures and on retried
  // rows only, never for an event delivered from the log on its first try: no cost to ingest.
  //
  // Not added: an index on events.received_at (every event would write it). Receipt counts and
  // the deliveries' from/to find log positions by a binary search on seq (events are committed
  // nearly in receipt order), through the primary key.
  sql: `
    ALTER TABLE events ADD COLUMN duplicates INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE events ADD COLUMN last_duplicate_at TEXT;

    ALTER TABLE transactions ADD COLUMN dialects TEXT;
    ALTER TABLE transactions ADD COLUMN environment TEXT;
    UPDATE transactions SET
      dialects = COALESCE((SELECT ',' || group_concat(value, ',') || ',' FROM json_each(transactions.state, '$.seen.dialects')), ',asyncapi,'),
      environment = json_extract(state, '$.environment');

    DROP INDEX IF EXISTS transactions_by_status;
    DROP INDEX IF EXISTS transactions_by_decision;
    CREATE INDEX transactions_by_activity ON transactions (last_received_at, seq);
    CREATE INDEX transactions_by_status ON transactions (status, last_received_at, seq);
    CREATE INDEX transactions_by_decision ON transactions (decision, last_received_at, seq) WHERE decision IS NOT NULL;
    CREATE INDEX transactions_anomalous ON transactions (last_received_at, seq) WHERE anomaly_count > 0;

    ALTER TABLE delivery_attempts ADD COLUMN destination TEXT;
    UPDATE delivery_attempts SET destination =
      (SELECT d.destination FROM deliveries d WHERE d.delivery_id = delivery_attempts.delivery_id);
    CREATE INDEX delivery_attempts_by_destination ON delivery_attempts (destination, started_at);
  `,
});

SQLITE_MIGRATIONS.push({
  version: 9,
  name: 'encryption at rest: the key that sealed each row, and the keys that ever sealed one',
  // Issue 20. key_id names the key that sealed the row's personal data columns (events raw_body
  // and headers, quarantine body, headers and detail, decisions details; store/encryption/), NULL
  // for a row in clear. ADD COLUMN, in place; no index: an accepted event writes no more B-trees
  // than before. Rekey walks the primary key, and the startup check reads encryption_keys: one row
  // per key that was ever current, written when a store opens with a new key, not per row.
  sql: `
    ALTER TABLE events ADD COLUMN key_id TEXT;
    ALTER TABLE quarantine ADD COLUMN key_id TEXT;
    ALTER TABLE decisions ADD COLUMN key_id TEXT;
    CREATE TABLE encryption_keys (
      key_id         TEXT PRIMARY KEY,
      first_used_at  TEXT NOT NULL,
      retired_at     TEXT
    );
  `,
});

SQLITE_MIGRATIONS.push({
  version: 10,
  name: 'retention and erasure: raw-removed marker, tombstones, log deletions, erasures',
  // Issue 20 (store/retention.ts, sqlite/retention.ts). Only ADD COLUMN (in place) and new tables;
  // nothing an accepted event writes gains an index:
  // - events.raw_removed_at: when retention emptied the raw body and headers (NULL: kept). The job
  //   walks the log by seq behind a watermark (retention_state), so it needs no index.
  // - quarantine.customer_user_id: read from the body when it could be parsed, so an erasure finds
  //   quarantined bodies of that customer; partial index, so rows without one add no entry.
  // - tombstones: a transaction that is gone, why and when (no personal data), for the API's 404
  //   and the dashboard; pruned by removed_at.
  // - log_deletions: per deletion batch, the span of seqs it deleted from and how many, so counts
  //   of the log from positions (log-views.ts, eventsBetween) subtract the holes.
  // - erasures: each erasure request carried out: when, counts per table, a salted hash of the
  //   customer user id (the salt in retention_state), never the id.
  sql: `
    ALTER TABLE events ADD COLUMN raw_removed_at TEXT;
    ALTER TABLE quarantine ADD COLUMN customer_user_id TEXT;
    CREATE INDEX quarantine_by_customer ON quarantine (customer_user_id) WHERE customer_user_id IS NOT NULL;
    CREATE TABLE tombstones (
      docv_transaction_id  TEXT PRIMARY KEY,
      removed_at           TEXT NOT NULL,
      reason               TEXT NOT NULL CHECK (reason IN ('retention', 'erasure'))
    );
    CREATE INDEX tombstones_by_time ON tombstones (removed_at);
    CREATE TABLE log_deletions (
      seq      INTEGER PRIMARY KEY AUTOINCREMENT,
      min_seq  INTEGER NOT NULL,
      max_seq  INTEGER NOT NULL,
      deleted  INTEGER NOT NULL,
      at       TEXT    NOT NULL
    );
    CREATE TABLE erasures (
      seq            INTEGER PRIMARY KEY AUTOINCREMENT,
      erasure_id     TEXT    NOT NULL UNIQUE,
      at             TEXT    NOT NULL,
      customer_hash  TEXT    NOT NULL,
      counts         TEXT    NOT NULL
    );
    CREATE INDEX erasures_by_customer ON erasures (customer_hash, seq);
    CREATE TABLE retention_state (
      name   TEXT PRIMARY KEY,
      value  TEXT NOT NULL
    );
  `,
});

SQLITE_MIGRATIONS.push({
  version: 11,
  name: 'sources: the source of each event, transaction and quarantined body; destination subscriptions',
  // Issue 20, part 1 (src/contract/source.ts). Only ADD COLUMN, in place: old rows read back the
  // default (`default`, the source of everything stored before sources existed), no row is
  // rewritten, no table rebuilt. No index: the source is a plain column every event writes in the
  // row it writes anyway, so an accepted event touches no more B-trees or pages than before.
  // Identity needs no column of its own: docv_transaction_id holds the transaction key (rows.ts,
  // transactionColumn), the id alone under `default`, `<id>\u001f<source>` under any other, so
  // every per-transaction index and lookup stays as it is. Filters by source are tested on the
  // rows another index walk brings up (transactions: the bounded walk of unindexed-walk.ts).
  //
  // destinations.subscription: which sources and event types a destination takes (JSON,
  // destinations.ts subscriptionColumn); NULL for every event.
  sql: `
    ALTER TABLE events ADD COLUMN source TEXT NOT NULL DEFAULT 'default';
    ALTER TABLE transactions ADD COLUMN source TEXT NOT NULL DEFAULT 'default';
    ALTER TABLE quarantine ADD COLUMN source TEXT NOT NULL DEFAULT 'default';
    ALTER TABLE destinations ADD COLUMN subscription TEXT;
  `,
});

/** Applies the migrations this file has not seen yet, each in its own transaction; returns their versions. */
export function applySqliteMigrations(db: Database.Database): number[] {
  const applied = new Set(
    db
      .prepare<[], { version: number }>('SELECT version FROM schema_migrations')
      .all()
      .map((r) => r.version),
  );
  const done: number[] = [];
  for (const m of SQLITE_MIGRATIONS) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        m.version,
        m.name,
        new Date().toISOString(),
      );
    }).immediate();
    done.push(m.version);
  }
  return done;
}
