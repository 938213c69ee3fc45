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
