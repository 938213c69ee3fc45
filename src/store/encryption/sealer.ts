import { createCipheriv, createDecipheriv } from 'node:crypto';
import { randomSlice } from '../ids.js';
import { keyIdOf, type EncryptionKeys } from './keys.js';

/** The tables with sealed columns; each has a `key_id` column naming the key that sealed its row. */
export type SealedTable = 'events' | 'quarantine' | 'decisions';

/**
 * A sealed value: `DVE` 0x01 (format version 1), the key id (8 bytes), a random 12-byte IV, the
 * 16-byte GCM tag, then the ciphertext. JSON columns hold the same bytes as a JSON string,
 * `"dve1:<base64>"`, so PostgreSQL's `json` type (and SQLite's JSON functions) still accept them.
 */
const MAGIC = Buffer.from([0x44, 0x56, 0x45, 0x01]);
const KEY_ID_BYTES = 8;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = MAGIC.length + KEY_ID_BYTES + IV_BYTES + TAG_BYTES;
const TEXT_PREFIX = 'dve1:';

/** A sealed row that cannot be opened: its key is not configured, or its bytes were changed. */
export class SealedRowError extends Error {
  constructor(
    readonly table: SealedTable,
    readonly rowId: string,
    reason: string,
  ) {
    super(`${table} row ${rowId} cannot be opened: ${reason}`);
    this.name = 'SealedRowError';
  }
}

/**
 * Seals and opens the personal data columns with AES-256-GCM. The additional data binds each value
 * to its table, column and row id, so a sealed value copied into another row (or column) does not
 * open. A value is sealed only when its row names a key (`key_id`) and it carries the format's
 * prefix: rows written before a key was set, and values emptied since (retention), read as they
 * are.
 */
export class Sealer {
  private readonly keys = new Map<string, Buffer>();
  private readonly current: { id: string; key: Buffer; idBytes: Buffer } | null;

  constructor(keys?: EncryptionKeys) {
    const all = [...(keys?.previous ?? []), ...(keys?.current ? [keys.current] : [])];
    for (const key of all) this.keys.set(keyIdOf(key), Buffer.from(key));
    const key = keys?.current ? Buffer.from(keys.current) : null;
    const id = key ? keyIdOf(key) : null;
    this.current = key && id ? { id, key, idBytes: Buffer.from(id, 'hex') } : null;
  }

  /** The id of the key new rows are sealed with; null: new rows are written in clear. */
  get currentKeyId(): string | null {
    return this.current?.id ?? null;
  }

  /** Whether rows sealed with this key id can be opened. */
  knows(keyId: string): boolean {
    return this.keys.has(keyId);
  }

  sealBytes(plain: Uint8Array, table: SealedTable, column: string, rowId: string): Buffer {
    const current = this.current;
    if (!current) throw new Error('no encryption key is configured to seal with');
    const iv = randomSlice(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', current.key, iv);
    cipher.setAAD(additionalData(table, column, rowId));
    const first = cipher.update(plain);
    const last = cipher.final();
    return Buffer.concat([MAGIC, current.idBytes, iv, cipher.getAuthTag(), first, last]);
  }

  /** `stored` as read; `keyId` the row's key_id column. */
  openBytes(stored: Buffer, keyId: string | null, table: SealedTable, column: string, rowId: string): Buffer {
    if (!isSealedBytes(stored, keyId)) return stored;
    const envelopeKeyId = stored.subarray(MAGIC.length, MAGIC.length + KEY_ID_BYTES).toString('hex');
    const key = this.keys.get(envelopeKeyId);
    if (!key)
      throw new SealedRowError(
        table,
        rowId,
        this.keys.size === 0
          ? `it is sealed with key ${envelopeKeyId} and no encryption key is configured`
          : `it is sealed with key ${envelopeKeyId}, which is not configured`,
      );
    const ivAt = MAGIC.length + KEY_ID_BYTES;
    const decipher = createDecipheriv('aes-256-gcm', key, stored.subarray(ivAt, ivAt + IV_BYTES));
    decipher.setAAD(additionalData(table, column, rowId));
    decipher.setAuthTag(stored.subarray(ivAt + IV_BYTES, HEADER_BYTES));
    try {
      return Buffer.concat([decipher.update(stored.subarray(HEADER_BYTES)), decipher.final()]);
    } catch {
      throw new SealedRowError(
        table,
        rowId,
        `its ${column} fails authentication (changed on disk, or copied from another row)`,
      );
    }
  }

  /** JSON text sealed as a JSON string, for a JSON column (PostgreSQL `json`, SQLite text). */
  sealJson(jsonText: string, table: SealedTable, column: string, rowId: string): string {
    const sealed = this.sealBytes(Buffer.from(jsonText, 'utf8'), table, column, rowId);
    return `"${TEXT_PREFIX}${sealed.toString('base64')}"`;
  }

  /** SQLite: the column's text as stored → the JSON text it holds. */
  openJsonText(stored: string, keyId: string | null, table: SealedTable, column: string, rowId: string): string {
    if (!keyId || !stored.startsWith(`"${TEXT_PREFIX}`)) return stored;
    return this.openPrefixed(stored.slice(1, -1), keyId, table, column, rowId);
  }

  /** PostgreSQL: a `json` column as the driver parsed it → the value it holds. */
  openJsonValue(stored: unknown, keyId: string | null, table: SealedTable, column: string, rowId: string): unknown {
    if (!keyId || typeof stored !== 'string' || !stored.startsWith(TEXT_PREFIX)) return stored;
    return JSON.parse(this.openPrefixed(stored, keyId, table, column, rowId)) as unknown;
  }

  private openPrefixed(text: string, keyId: string, table: SealedTable, column: string, rowId: string): string {
    const bytes = Buffer.from(text.slice(TEXT_PREFIX.length), 'base64');
    if (!isSealedBytes(bytes, keyId))
      throw new SealedRowError(table, rowId, `its ${column} is not a valid sealed value`);
    return this.openBytes(bytes, keyId, table, column, rowId).toString('utf8');
  }
}

function isSealedBytes(stored: Buffer, keyId: string | null): boolean {
  return !!keyId && stored.length >= HEADER_BYTES && stored.subarray(0, MAGIC.length).equals(MAGIC);
}

function additionalData(table: SealedTable, column: string, rowId: string): Buffer {
  return Buffer.from(`docv-webhooks\0${table}\0${column}\0${rowId}`, 'utf8');
}

/** No key: every value is written and read in clear (and a sealed one fails to open, naming its row). */
export const NO_ENCRYPTION = new Sealer();
