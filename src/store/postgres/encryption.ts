import type pg from 'pg';
import { SEALED_COLUMNS, resealRow, type StoredSealedRow } from '../encryption/columns.js';
import { COUNT_SEALED_UP_TO, keyMismatchError, missingKeyIds, SEALED_TABLES } from '../encryption/key-check.js';
import { nextTable, REKEY_ORDER, type RekeyBatch, type RekeyPosition } from '../encryption/rotation.js';
import type { Sealer } from '../encryption/sealer.js';

/**
 * At open (store/sqlite/encryption.ts does the same): a store that seals registers its key, then
 * every key the registry names must be configured, or the open fails naming the keys and example
 * rows. Before migration 10 (a read-only open of an older schema) there is nothing to check.
 */
export async function registerAndCheckKeys(pool: pg.Pool, sealer: Sealer, writable: boolean): Promise<void> {
  const exists = await pool.query<{ t: string | null }>("SELECT to_regclass('encryption_keys')::text AS t");
  if (!exists.rows[0]?.t) return;
  const current = sealer.currentKeyId;
  if (current && writable)
    await pool.query(
      `INSERT INTO encryption_keys (key_id, first_used_at) VALUES ($1, now())
       ON CONFLICT (key_id) DO UPDATE SET retired_at = NULL WHERE encryption_keys.retired_at IS NOT NULL`,
      [current],
    );
  const registered = (
    await pool.query<{ key_id: string }>('SELECT key_id FROM encryption_keys WHERE retired_at IS NULL')
  ).rows.map((r) => r.key_id);
  const found = [];
  for (const keyId of missingKeyIds(sealer, registered))
    for (const { table, id } of SEALED_TABLES) {
      const count = Number(
        (
          await pool.query<{ n: string }>(
            `SELECT count(*) AS n FROM (SELECT 1 FROM ${table} WHERE key_id = $1 LIMIT $2) sealed`,
            [keyId, COUNT_SEALED_UP_TO],
          )
        ).rows[0]!.n,
      );
      const examples =
        count === 0
          ? []
          : (
              await pool.query<{ id: string }>(`SELECT ${id} AS id FROM ${table} WHERE key_id = $1 LIMIT 3`, [keyId])
            ).rows.map((r) => r.id);
      found.push({ keyId, table, count, examples });
    }
  const error = keyMismatchError(sealer, found);
  if (error) throw error;
}

/**
 * One rekey batch in the caller's transaction: the rows examined are locked (FOR UPDATE) so an
 * instance writing the same row (a decision fetched again) waits for the batch, not the reverse.
 */
export async function rekeyBatch(
  client: pg.PoolClient,
  sealer: Sealer,
  position: RekeyPosition | null,
  limit: number,
): Promise<RekeyBatch> {
  const current = sealer.currentKeyId;
  if (!current) throw new Error('rekey needs an encryption key to seal with (--encryption-key)');
  const at = position ?? { table: REKEY_ORDER[0]!, after: '' };
  const spec = SEALED_COLUMNS[at.table];
  const numeric = spec.position === 'seq';
  // JSON columns read as text, as SQLite gives them: the sealed form is a JSON string either way.
  const { rows } = await client.query<StoredSealedRow & { position: string }>(
    `SELECT ${spec.position}::text AS position, ${spec.id}, key_id, ${[
      ...spec.bytes,
      ...spec.json.map((c) => `${c}::text AS ${c}`),
    ].join(', ')}
       FROM ${at.table} WHERE ${numeric ? `${spec.position} > $1::bigint` : `${spec.position} > $1`}
       ORDER BY ${spec.position} LIMIT $2 FOR UPDATE`,
    [numeric ? at.after || '0' : at.after, limit],
  );
  const columns = [...spec.bytes, ...spec.json];
  let resealed = 0;
  for (const row of rows) {
    if (row.key_id === current) continue;
    const values = resealRow(sealer, at.table, row);
    await client.query(
      `UPDATE ${at.table} SET ${columns.map((c, i) => `${c} = $${i + 1}`).join(', ')}, key_id = $${columns.length + 1}
        WHERE ${spec.position} = $${columns.length + 2}${numeric ? '::bigint' : ''}`,
      [...columns.map((c) => values[c]), current, row.position],
    );
    resealed++;
  }
  const last = rows.at(-1);
  const next = rows.length < limit || !last ? nextTable(at.table) : { table: at.table, after: last.position };
  return { examined: rows.length, resealed, next };
}

/** Marks retired every registered key other than the current one that no row uses any more. */
export async function retireUnusedKeys(client: pg.PoolClient, sealer: Sealer): Promise<string[]> {
  const active = (
    await client.query<{ key_id: string }>('SELECT key_id FROM encryption_keys WHERE retired_at IS NULL FOR UPDATE')
  ).rows
    .map((r) => r.key_id)
    .filter((id) => id !== sealer.currentKeyId);
  const retired: string[] = [];
  for (const keyId of active) {
    let used = false;
    for (const { table } of SEALED_TABLES)
      if ((await client.query(`SELECT 1 FROM ${table} WHERE key_id = $1 LIMIT 1`, [keyId])).rowCount) used = true;
    if (used) continue;
    await client.query('UPDATE encryption_keys SET retired_at = now() WHERE key_id = $1', [keyId]);
    retired.push(keyId);
  }
  return retired;
}
