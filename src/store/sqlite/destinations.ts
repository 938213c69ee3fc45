import type Database from 'better-sqlite3';
import {
  destinationOf,
  differs,
  subscriptionColumn,
  type ActiveDestination,
  type AddDestinationMode,
  type AddDestinationResult,
  type DestinationRow,
  type DestinationState,
  type NewDestination,
  type StoredDestination,
} from '../destinations.js';

/**
 * The destinations table of the SQLite store. Writes run in the store's write queue (one writer
 * per file), so an add or a state change commits before or after an ingest batch, never inside.
 */
export class SqliteDestinations {
  private readonly stmts;

  constructor(db: Database.Database) {
    this.stmts = {
      all: db.prepare<[], DestinationRow>('SELECT * FROM destinations ORDER BY name'),
      one: db.prepare<[string], DestinationRow>('SELECT * FROM destinations WHERE name = ?'),
      active: db.prepare<[], ActiveDestination>(
        "SELECT name, kind FROM destinations WHERE state = 'active' ORDER BY name",
      ),
      insert: db.prepare(
        `INSERT INTO destinations (name, kind, url, state, signed, url_credentials, subscription, created_at, updated_at)
         VALUES (@name, @kind, @url, 'active', @signed, @urlCredentials, @subscription, @now, @now)`,
      ),
      replace: db.prepare(
        `UPDATE destinations SET kind = @kind, url = @url, signed = @signed, url_credentials = @urlCredentials,
           subscription = @subscription, updated_at = @now WHERE name = @name`,
      ),
      setState: db.prepare<[string, string, string]>(
        'UPDATE destinations SET state = ?, updated_at = ? WHERE name = ?',
      ),
    };
  }

  list(): StoredDestination[] {
    return this.stmts.all.all().map(destinationOf);
  }

  /** What ingest reads once per commit: a few rows from a table that fits in one page. */
  active(): ActiveDestination[] {
    return this.stmts.active.all();
  }

  add(wanted: NewDestination, mode: AddDestinationMode): AddDestinationResult {
    const now = new Date().toISOString();
    const params = {
      name: wanted.name,
      kind: wanted.kind,
      url: wanted.url,
      signed: wanted.signed ? 1 : 0,
      urlCredentials: wanted.urlCredentials ? 1 : 0,
      subscription: subscriptionColumn(wanted.subscription),
      now,
    };
    const existing = this.stmts.one.get(wanted.name);
    if (!existing) {
      this.stmts.insert.run(params);
      return { destination: destinationOf(this.stmts.one.get(wanted.name)!), outcome: 'created' };
    }
    const current = destinationOf(existing);
    if (mode === 'keep' || !differs(current, wanted)) return { destination: current, outcome: 'unchanged' };
    this.stmts.replace.run(params);
    return { destination: destinationOf(this.stmts.one.get(wanted.name)!), outcome: 'updated' };
  }

  setState(name: string, state: DestinationState): StoredDestination | null {
    const existing = this.stmts.one.get(name);
    if (!existing) return null;
    if (existing.state !== state) this.stmts.setState.run(state, new Date().toISOString(), name);
    return destinationOf(this.stmts.one.get(name)!);
  }
}
