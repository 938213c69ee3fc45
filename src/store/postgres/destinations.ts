import type pg from 'pg';
import {
  destinationOf,
  subscriptionColumn,
  type AddDestinationMode,
  type AddDestinationResult,
  type DestinationRow,
  type DestinationState,
  type NewDestination,
  type StoredDestination,
} from '../destinations.js';

/** The pool, or a client in the middle of a transaction (adding a forward also makes its cursor). */
type Queryable = Pick<pg.ClientBase, 'query'>;

/**
 * The destinations table of the PostgreSQL store. Instances add their flags' destinations at the
 * same moment when they start together: ON CONFLICT makes the add one statement that either
 * inserts or finds the row, whoever wins.
 */

export async function list(pool: pg.Pool): Promise<StoredDestination[]> {
  return (await pool.query<DestinationRow>('SELECT * FROM destinations ORDER BY name')).rows.map(destinationOf);
}

async function one(pool: Queryable, name: string): Promise<StoredDestination | null> {
  const row = (await pool.query<DestinationRow>('SELECT * FROM destinations WHERE name = $1', [name])).rows[0];
  return row ? destinationOf(row) : null;
}

export async function add(
  pool: Queryable,
  wanted: NewDestination,
  mode: AddDestinationMode,
): Promise<AddDestinationResult> {
  const values = [
    wanted.name,
    wanted.kind,
    wanted.url,
    wanted.signed,
    wanted.urlCredentials,
    subscriptionColumn(wanted.subscription),
  ];
  // xmax = 0 on a row this statement inserted; a row it updated carries this transaction's id.
  const conflict =
    mode === 'keep'
      ? 'DO NOTHING'
      : `DO UPDATE SET kind = excluded.kind, url = excluded.url, signed = excluded.signed, url_credentials = excluded.url_credentials,
           subscription = excluded.subscription, updated_at = now()
         WHERE (destinations.kind, destinations.url, destinations.signed, destinations.url_credentials, destinations.subscription)
               IS DISTINCT FROM (excluded.kind, excluded.url, excluded.signed, excluded.url_credentials, excluded.subscription)`;
  const written = await pool.query<DestinationRow & { inserted: boolean }>(
    `INSERT INTO destinations (name, kind, url, state, signed, url_credentials, subscription)
     VALUES ($1, $2, $3, 'active', $4, $5, $6)
     ON CONFLICT (name) ${conflict}
     RETURNING *, (xmax = 0) AS inserted`,
    values,
  );
  const row = written.rows[0];
  if (row) return { destination: destinationOf(row), outcome: row.inserted ? 'created' : 'updated' };
  // Nothing written: it was there already (perhaps added by another instance a moment ago).
  const existing = await one(pool, wanted.name);
  if (!existing) throw new Error(`destination ${wanted.name} neither added nor found`);
  return { destination: existing, outcome: 'unchanged' };
}

export async function setState(
  pool: pg.Pool,
  name: string,
  state: DestinationState,
): Promise<StoredDestination | null> {
  const changed = await pool.query<DestinationRow>(
    'UPDATE destinations SET state = $2, updated_at = now() WHERE name = $1 AND state <> $2 RETURNING *',
    [name, state],
  );
  return changed.rows[0] ? destinationOf(changed.rows[0]) : one(pool, name);
}
