import type pg from 'pg';
import type { Migration } from '../sqlite/migrations.js';
import { inTransaction, quoteIdent } from './connection.js';

/**
 * Append-only, like the SQLite list: a released migration is never edited. Versions 1 and 2 match
 * the SQLite ones; 3 is PostgreSQL's own (SQLite has no limit on the size of an index entry), so
 * from there on the numbers differ by one (PostgreSQL 6 is SQLite 5).
 *
 * Differences from SQLite, on purpose: timestamps the receiver makes are timestamptz; JSON is
 * `json` (kept verbatim, unlike jsonb, so headers and lifecycle state read back as written);
 * the outbox indexes are partial (only due rows are ever scanned by claims).
 */
export const POSTGRES_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'events, transactions, quarantine',
    sql: `
      CREATE TABLE events (
        seq                  bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        event_id             text        NOT NULL UNIQUE,
        dedupe_key           text        NOT NULL UNIQUE,
        delivery_id          text,
        content_hash         text        NOT NULL,
        docv_transaction_id  text        NOT NULL,
        event_type           text        NOT NULL,
        event_time           text        NOT NULL,
        event_time_ms        bigint      NOT NULL,
        customer_user_id     text,
        decision             text,
        received_at          timestamptz NOT NULL,
        raw_body             bytea       NOT NULL,
        headers              json        NOT NULL
      );
      CREATE INDEX events_by_transaction ON events (docv_transaction_id, event_time_ms, seq);
      CREATE INDEX events_by_type ON events (event_type, seq);

      CREATE TABLE transactions (
        seq                  bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        docv_transaction_id  text    NOT NULL UNIQUE,
        status               text    NOT NULL,
        decision             text,
        customer_user_id     text,
        first_event_at       text    NOT NULL,
        last_event_at        text    NOT NULL,
        first_received_at    text    NOT NULL,
        last_received_at     text    NOT NULL,
        event_count          integer NOT NULL,
        anomaly_count        integer NOT NULL,
        state                json    NOT NULL
      );
      CREATE INDEX transactions_by_status ON transactions (status, seq);
      CREATE INDEX transactions_by_decision ON transactions (decision, seq);
      CREATE INDEX transactions_by_customer ON transactions (customer_user_id, seq);

      CREATE TABLE quarantine (
        seq            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        quarantine_id  text        NOT NULL UNIQUE,
        received_at    timestamptz NOT NULL,
        reason         text        NOT NULL,
        status         integer     NOT NULL,
        detail         json        NOT NULL,
        headers        json        NOT NULL,
        body           bytea       NOT NULL,
        body_size      integer     NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'outbox deliveries, attempts, fetched decisions',
    sql: `
      CREATE TABLE deliveries (
        seq                  bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        delivery_id          text        NOT NULL UNIQUE,
        event_seq            bigint      NOT NULL REFERENCES events (seq),
        event_id             text        NOT NULL,
        docv_transaction_id  text        NOT NULL,
        event_type           text        NOT NULL,
        destination          text        NOT NULL,
        state                text        NOT NULL CHECK (state IN ('pending', 'failed', 'delivered', 'dead')),
        attempts             integer     NOT NULL DEFAULT 0,
        next_attempt_at      bigint      NOT NULL,
        lease_owner          text,
        lease_until          bigint,
        waits_for            text,
        wait_until           bigint,
        last_status          integer,
        last_error           text,
        created_at           timestamptz NOT NULL,
        updated_at           timestamptz NOT NULL,
        delivered_at         timestamptz
      );
      CREATE INDEX deliveries_due ON deliveries (next_attempt_at, seq) WHERE state IN ('pending', 'failed');
      CREATE INDEX deliveries_in_order ON deliveries (docv_transaction_id, destination, event_seq) WHERE state IN ('pending', 'failed');
      CREATE INDEX deliveries_by_event ON deliveries (event_id);
      CREATE INDEX deliveries_by_event_seq ON deliveries (event_seq);
      CREATE INDEX deliveries_by_state ON deliveries (state, seq);
      CREATE INDEX deliveries_by_destination ON deliveries (destination, seq);
      CREATE INDEX deliveries_by_transaction ON deliveries (docv_transaction_id, seq);

      CREATE TABLE delivery_attempts (
        seq          bigint           GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        delivery_id  text             NOT NULL,
        attempt      integer          NOT NULL,
        worker       text             NOT NULL,
        started_at   timestamptz      NOT NULL,
        duration_ms  double precision NOT NULL,
        outcome      text             NOT NULL,
        status       integer,
        error        text
      );
      CREATE INDEX delivery_attempts_by_delivery ON delivery_attempts (delivery_id, seq);

      CREATE TABLE decisions (
        event_id             text PRIMARY KEY,
        docv_transaction_id  text NOT NULL,
        decision             text NOT NULL,
        reason_codes         json NOT NULL,
        fetched_at           text NOT NULL,
        details              json
      );
    `,
  },
  {
    version: 3,
    name: 'customer index on a digest of customer_user_id',
    // A btree entry must fit in about 2.7 kB, and customerUserId has no length limit in the
    // contract: a long one (SQLite stores it) made every commit of its batch fail, a 503 the
    // sender would retry for ever. The digest is fixed-size; queries compare both (see
    // listTransactions), so a digest collision cannot mix customers up.
    sql: `
      DROP INDEX IF EXISTS transactions_by_customer;
      CREATE INDEX transactions_by_customer ON transactions (md5(customer_user_id), seq);
    `,
  },
  {
    version: 4,
    name: 'dedupe keys of content-keyed events start with their event time',
    // Same formula as ingest/dedupe-key.ts, so a retry of an event stored before this migration
    // still finds it. Keys of delivery ids (`id:`) stay as they are.
    sql: `
      UPDATE events SET dedupe_key = 't:' || lpad(to_hex(event_time_ms), 12, '0') || ':' || dedupe_key
       WHERE dedupe_key LIKE 'sha256:%' AND event_time_ms BETWEEN 0 AND 281474976710655;
    `,
  },
  {
    version: 5,
    name: 'drop deliveries_by_event: no query looks deliveries up by event id',
    // Every outbox row paid for it, and every update that moves a delivery's state or due time
    // (not a HOT update: those columns are indexed) added an entry to it again. Nothing read it:
    // deliveries are found by delivery id, due time, state, destination or transaction, or
    // joined to their event by event_seq (deliveries_by_event_seq).
    sql: `DROP INDEX IF EXISTS deliveries_by_event;`,
  },
  {
    version: 6,
    name: 'dialects: canonical metadata and evaluation id on events; dialect and reprocessing on quarantine; decision name',
    // Nullable columns without a default: a catalog change, no table rewrite. Flat events keep
    // canonical NULL (their payload says it all), so the flat path writes nothing more.
    // docv_transaction_id stays NOT NULL: "no transaction" is '' (store/rows.ts says why).
    // The evaluation index is partial: only RiskOS events have an evaluation id, so flat events
    // add no entry to it. Building it scans the table once under a lock that holds writes back
    // (a transaction cannot build CONCURRENTLY); it finds nothing to index, so it is one pass.
    // decisions.decision_name keeps the decision logic the fetch names (`standard`, `lenient`), so
    // the deliveries that waited for the decision carry it (as SQLite's migration 5).
    sql: `
      ALTER TABLE events ADD COLUMN canonical json, ADD COLUMN evaluation_id text;
      CREATE INDEX events_by_evaluation ON events (evaluation_id, seq) WHERE evaluation_id IS NOT NULL;
      ALTER TABLE quarantine ADD COLUMN dialect text, ADD COLUMN reprocessed_at timestamptz, ADD COLUMN reprocess_outcome text,
        ADD COLUMN reprocess_status integer, ADD COLUMN reprocess_event_id text;
      ALTER TABLE decisions ADD COLUMN decision_name text;
      -- A completion's forward carries the decision fetched for the transaction's upload.
      CREATE INDEX decisions_by_transaction ON decisions (docv_transaction_id, fetched_at);
    `,
  },
  {
    version: 7,
    name: 'destinations: where events go, shared by every process on the store',
    // A handful of rows that every ingest batch reads inside the statement that inserts its events
    // (ingest.ts, INSERT_EVENTS): no round trip of its own, and every instance sees an add or a
    // disable from its next batch on. Secrets are never stored (store/destinations.ts).
    sql: `
      CREATE TABLE destinations (
        name             text        PRIMARY KEY,
        kind             text        NOT NULL CHECK (kind IN ('forward', 'decision-fetch')),
        url              text        NOT NULL,
        state            text        NOT NULL CHECK (state IN ('active', 'disabled')),
        signed           boolean     NOT NULL DEFAULT false,
        url_credentials  boolean     NOT NULL DEFAULT false,
        created_at       timestamptz NOT NULL DEFAULT now(),
        updated_at       timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    version: 8,
    name: 'the event log is the outbox: destination cursors instead of a row per event and destination',
    // Issue 18, decision 0012; SQLite's version 7. A forward or handler destination keeps a cursor
    // into the events table (seq is the log position; ingest commits in seq order, see
    // log-order.ts); `deliveries` keeps only the deliveries that left the happy path (failed,
    // dead, waiting, retried or replayed) and decision fetches. Every row kept before this
    // version stays as it is: each forward starts reading after the last event, so a pending row
    // of an earlier version is delivered from its row, and nothing is delivered twice.
    //
    // cursor_marks: when a cursor passed a position, at most one mark a second per destination, so
    // a delivery read back from the log can say when it was delivered.
    //
    // events_by_type goes: an index entry on every accepted event for a filter that walks the log
    // just as well. deliveries_by_destination is rebuilt on the event's position, the order the
    // deliveries list now has (deliveries_by_event_seq exists since version 2).
    //
    // The cursors are made last, under a SHARE lock on events: it waits for inserts in flight (an
    // instance of an earlier version still running) and holds new ones back until this commits,
    // so the head they start at is the last event any earlier version gave rows to.
    sql: `
      CREATE TABLE destination_cursors (
        destination  text        PRIMARY KEY,
        from_seq     bigint      NOT NULL,
        seq          bigint      NOT NULL,
        until_seq    bigint,
        lease_owner  text,
        lease_until  bigint,
        updated_at   timestamptz NOT NULL
      );
      CREATE TABLE cursor_marks (
        destination  text        NOT NULL,
        seq          bigint      NOT NULL,
        at           timestamptz NOT NULL,
        PRIMARY KEY (destination, seq)
      );
      DROP INDEX IF EXISTS events_by_type;
      DROP INDEX IF EXISTS deliveries_by_destination;
      CREATE INDEX deliveries_by_destination ON deliveries (destination, event_seq);
      LOCK TABLE events IN SHARE MODE;
      INSERT INTO destination_cursors (destination, from_seq, seq, updated_at)
        SELECT name, head.seq, head.seq, now()
          FROM destinations, (SELECT COALESCE(MAX(seq), 0) AS seq FROM events) head
         WHERE kind = 'forward';
    `,
  },
  {
    version: 9,
    name: 'operations console: transactions by last activity, search, filters; duplicates counted; attempts by destination',
    // Issue 19; SQLite's version 8.
    //
    // transactions: the list is ordered by last activity (last_received_at, seq), so the list and
    // each filter's index lead with it (status; decision, partial: most rows have none until their
    // completion; anomalous ones, partial). The customer index is rebuilt on the first 256
    // characters (MAX_SEARCH_LENGTH) in "C" collation, which a prefix search walks as a range and
    // the exact filter looks up (an entry must fit in a btree page: customer ids are unbounded,
    // see version 3; the digest could not answer a prefix). dialects and environment are copied
    // out of the lifecycle so filters need not parse JSON; they have no index (see
    // transaction-filter.ts). Per transaction write: an entry in the activity index
    // instead of one in the decision index while there is no decision; but every update of a
    // transaction now changes an indexed column (last_received_at), so none is a HOT update.
    //
    // The backfill reads the JSON as text where it must: PostgreSQL's JSON operators refuse a whole
    // document holding \u0000 or a lone surrogate, which a sender may put in a customer id. A quote
    // inside a JSON string is always escaped, so "dialects":[ is only ever the key itself; dialect
    // names are plain words. Lifecycles from before dialects existed (no "dialects" key) were flat.
    // Old indexes go first and new ones come after the backfill: the UPDATE writes no entry to them.
    //
    // events: duplicates and last_duplicate_at, written only when the same event arrives again
    // (a default: a catalog change, no rewrite; old rows read 0 and NULL).
    //
    // delivery_attempts: the destination (filled from the delivery row, then by every record),
    // and an index (destination, started_at) for each destination's recent attempts and last
    // error. Attempts are recorded only for deliveries that have a row (failures, retries,
    // decision fetches), so the happy path writes nothing more.
    sql: `
      DROP INDEX IF EXISTS transactions_by_status;
      DROP INDEX IF EXISTS transactions_by_decision;
      DROP INDEX IF EXISTS transactions_by_customer;
      ALTER TABLE transactions ADD COLUMN dialects text[], ADD COLUMN environment text;
      UPDATE transactions SET
        dialects = COALESCE(
          string_to_array(replace(substring(state::text from '"dialects":\\[([^]]*)\\]'), '"', ''), ','),
          CASE WHEN event_count > 0 THEN ARRAY['asyncapi'] ELSE ARRAY[]::text[] END),
        environment = CASE WHEN state::text ~* '\\\\u(0000|d[89a-f])'
          THEN substring(state::text from '"environment":"([^"\\\\]*)"')
          ELSE state->>'environment' END;
      CREATE INDEX transactions_by_activity ON transactions (last_received_at, seq);
      CREATE INDEX transactions_by_status ON transactions (status, last_received_at, seq);
      CREATE INDEX transactions_by_decision ON transactions (decision, last_received_at, seq) WHERE decision IS NOT NULL;
      CREATE INDEX transactions_anomalous ON transactions (last_received_at, seq) WHERE anomaly_count > 0;
      CREATE INDEX transactions_by_customer ON transactions ((left(customer_user_id, 256)) COLLATE "C", seq);

      ALTER TABLE events ADD COLUMN duplicates integer NOT NULL DEFAULT 0, ADD COLUMN last_duplicate_at timestamptz;

      ALTER TABLE delivery_attempts ADD COLUMN destination text;
      UPDATE delivery_attempts a SET destination = d.destination FROM deliveries d WHERE d.delivery_id = a.delivery_id;
      CREATE INDEX delivery_attempts_by_destination ON delivery_attempts (destination, started_at);
    `,
  },
  {
    version: 10,
    name: 'encryption at rest: the key that sealed each row, and the keys that ever sealed one',
    // Issue 20; SQLite's version 9. key_id names the key that sealed the row's personal data
    // columns (store/encryption/), NULL for a row in clear; no index, so an accepted event writes
    // no more than before (a nullable column without default: a catalog change, no rewrite).
    // Sealed JSON columns hold a JSON string ("dve1:<base64>"), so their type stays json.
    sql: `
      ALTER TABLE events ADD COLUMN key_id text;
      ALTER TABLE quarantine ADD COLUMN key_id text;
      ALTER TABLE decisions ADD COLUMN key_id text;
      CREATE TABLE encryption_keys (
        key_id         text        PRIMARY KEY,
        first_used_at  timestamptz NOT NULL,
        retired_at     timestamptz
      );
    `,
  },
  {
    version: 11,
    name: 'retention and erasure: raw-removed marker, tombstones, log deletions, erasures',
    // Issue 20; SQLite's version 10 (the reasons are there). New columns are nullable without a
    // default (a catalog change, no rewrite); no index an accepted event writes.
    sql: `
      ALTER TABLE events ADD COLUMN raw_removed_at timestamptz;
      ALTER TABLE quarantine ADD COLUMN customer_user_id text;
      CREATE INDEX quarantine_by_customer ON quarantine ((left(customer_user_id, 256))) WHERE customer_user_id IS NOT NULL;
      CREATE TABLE tombstones (
        docv_transaction_id  text        PRIMARY KEY,
        removed_at           timestamptz NOT NULL,
        reason               text        NOT NULL CHECK (reason IN ('retention', 'erasure'))
      );
      CREATE INDEX tombstones_by_time ON tombstones (removed_at);
      CREATE TABLE log_deletions (
        seq      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        min_seq  bigint      NOT NULL,
        max_seq  bigint      NOT NULL,
        deleted  integer     NOT NULL,
        at       timestamptz NOT NULL
      );
      CREATE TABLE erasures (
        seq            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        erasure_id     text        NOT NULL UNIQUE,
        at             timestamptz NOT NULL,
        customer_hash  text        NOT NULL,
        counts         json        NOT NULL
      );
      CREATE INDEX erasures_by_customer ON erasures (customer_hash, seq);
      CREATE TABLE retention_state (
        name   text PRIMARY KEY,
        value  text NOT NULL
      );
    `,
  },
  {
    version: 12,
    name: 'sources: the source of each event, transaction and quarantined body; destination subscriptions',
    // Issue 20, part 1; SQLite's version 11 (the reasons are there). A column with a constant
    // default is a catalog change in PostgreSQL 11 and later: old rows read back `default` (the
    // source of everything stored before sources existed) without a rewrite. No index: the source
    // is one more value in the row each event writes anyway. docv_transaction_id holds the
    // transaction key (rows.ts, transactionColumn), so every per-transaction index stays as it is.
    //
    // sources: every source other than `default` that ever stored a transaction key, so that a
    // lookup of an id under any source is a handful of equality probes of the key indexes (the id,
    // and `<id>\u001f<name>` for each name here: source-keys.ts). A range of keys would need byte
    // order, and the key indexes are in the database's collation, which under a linguistic one
    // (en_US, ICU) ignores the separator: `<id>\u001f<source>` then sorts among other ids. Ingest
    // adds a name in the statement that inserts its first event (under the log lock), once per
    // process and name; no row is ever removed (a name with no rows left costs one probe).
    sql: `
      ALTER TABLE events ADD COLUMN source text NOT NULL DEFAULT 'default';
      ALTER TABLE transactions ADD COLUMN source text NOT NULL DEFAULT 'default';
      ALTER TABLE quarantine ADD COLUMN source text NOT NULL DEFAULT 'default';
      ALTER TABLE destinations ADD COLUMN subscription text;
      CREATE TABLE sources (
        name           text        PRIMARY KEY,
        first_seen_at  timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
];

/**
 * Applies what is missing in one transaction under an advisory lock keyed on the schema: several
 * instances starting at once queue on the lock, the first applies, the others find nothing to do.
 */
export async function applyPostgresMigrations(pool: pg.Pool, schema: string | null): Promise<number[]> {
  return inTransaction(pool, async (client) => {
    const target =
      schema ?? (await client.query<{ s: string | null }>('SELECT current_schema() AS s')).rows[0]?.s ?? 'public';
    await client.query("SELECT pg_advisory_xact_lock(hashtextextended('docv-webhooks:migrate:' || $1, 0))", [target]);
    // Under the lock: concurrent CREATE SCHEMA IF NOT EXISTS can otherwise fail with a unique violation.
    // Looked up first: CREATE SCHEMA needs the CREATE privilege on the database even when it exists.
    if (schema && (await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).rowCount === 0) {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    }
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const applied = new Set(
      (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version),
    );
    const done: number[] = [];
    for (const m of POSTGRES_MIGRATIONS) {
      if (applied.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      done.push(m.version);
    }
    return done;
  });
}

/** The newest version applied, or null when the schema has no docv-webhooks tables. */
export async function currentPostgresVersion(pool: pg.Pool): Promise<number | null> {
  const exists = await pool.query<{ t: string | null }>("SELECT to_regclass('schema_migrations')::text AS t");
  if (!exists.rows[0]?.t) return null;
  const row = await pool.query<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations');
  return row.rows[0]?.v ?? null;
}
