import type Database from 'better-sqlite3';
import { COUNT_SEALED_UP_TO, keyMismatchError, missingKeyIds, SEALED_TABLES } from '../encryption/key-check.js';
import { SEALED_COLUMNS, resealRow, type StoredSealedRow } from '../encryption/columns.js';
import { nextTable, REKEY_ORDER, type RekeyBatch, type RekeyPosition } from '../encryption/rotation.js';
import type { Sealer, SealedTable } from '../encryption/sealer.js';

/**
 * At open: a store that seals registers its key (once per key, not per row), then every key the
 * registry names must be configured, or the open fails naming the keys and example rows.
 * A read-only open of a database from before encryption (no registry) has nothing to check.
 */
export function registerAndCheckKeys(db: Database.Database, sealer: Sealer, writable: boolean): void {
  const hasRegistry = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'encryption_keys'").get();
  if (!hasRegistry) return;
  const current = sealer.currentKeyId;
  if (current && writable)
    db.prepare(
      `INSERT INTO encryption_keys (key_id, first_used_at) VALUES (?, ?)
       ON CONFLICT (key_id) DO UPDATE SET retired_at = NULL WHERE retired_at IS NOT NULL`,
    ).run(current, new Date().toISOString());
  const registered = db
    .prepare<[], { key_id: string }>('SELECT key_id FROM encryption_keys WHERE retired_at IS NULL')
    .all()
    .map((r) => r.key_id);
  const found = missingKeyIds(sealer, registered).flatMap((keyId) =>
    SEALED_TABLES.map(({ table, id }) => {
      const count = db
        .prepare<[string, number], { n: number }>(
          `SELECT count(*) AS n FROM (SELECT 1 FROM ${table} WHERE key_id = ? LIMIT ?)`,
        )
        .get(keyId, COUNT_SEALED_UP_TO)!.n;
      const examples =
        count === 0
          ? []
          : db
              .prepare<[string], { id: string }>(`SELECT ${id} AS id FROM ${table} WHERE key_id = ? LIMIT 3`)
              .all(keyId)
              .map((r) => r.id);
      return { keyId, table, count, examples };
    }),
  );
  const error = keyMismatchError(sealer, found);
  if (error) throw error;
}

/**
 * Re-seals rows with the current key, one bounded batch per call, each inside a commit of the
 * store's write queue (so a running receiver's writes interleave with it: no long lock).
 */
export class SqliteRekey {
  constructor(
    private readonly db: Database.Database,
    private readonly sealer: Sealer,
  ) {}

  batch(position: RekeyPosition | null, limit: number): RekeyBatch {
    const current = this.sealer.currentKeyId;
    if (!current) throw new Error('rekey needs an encryption key to seal with (--encryption-key)');
    const at = position ?? { table: REKEY_ORDER[0]!, after: '' };
    const spec = SEALED_COLUMNS[at.table];
    const columns = [...spec.bytes, ...spec.json];
    const numeric = spec.position === 'seq';
    const after = numeric ? Number(at.after || 0) : at.after;
    const rows = this.db
      .prepare<[number | string, number], StoredSealedRow>(
        `SELECT ${spec.position} AS position, ${spec.id}, key_id, ${columns.join(', ')}
           FROM ${at.table} WHERE ${spec.position} > ? ORDER BY ${spec.position} LIMIT ?`,
      )
      .all(after, limit);
    const update = this.db.prepare(
      `UPDATE ${at.table} SET ${columns.map((c) => `${c} = @${c}`).join(', ')}, key_id = @keyId WHERE ${spec.position} = @position`,
    );
    let resealed = 0;
    for (const row of rows) {
      if (row.key_id === current) continue;
      update.run({ ...resealRow(this.sealer, at.table, row), keyId: current, position: row.position });
      resealed++;
    }
    const last = rows.at(-1);
    const next = rows.length < limit || !last ? nextTable(at.table) : { table: at.table, after: String(last.position) };
    return { examined: rows.length, resealed, next };
  }

  /** Marks retired every registered key other than the current one that no row uses any more. */
  retireUnused(): string[] {
    const current = this.sealer.currentKeyId;
    const active = this.db
      .prepare<[], { key_id: string }>('SELECT key_id FROM encryption_keys WHERE retired_at IS NULL')
      .all()
      .map((r) => r.key_id)
      .filter((id) => id !== current);
    const retired: string[] = [];
    for (const keyId of active) {
      const used = (SEALED_TABLES.map((t) => t.table) as SealedTable[]).some(
        (table) => this.db.prepare(`SELECT 1 FROM ${table} WHERE key_id = ? LIMIT 1`).get(keyId) !== undefined,
      );
      if (used) continue;
      this.db
        .prepare('UPDATE encryption_keys SET retired_at = ? WHERE key_id = ?')
        .run(new Date().toISOString(), keyId);
      retired.push(keyId);
    }
    return retired;
  }
}
