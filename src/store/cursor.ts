/**
 * Opaque page cursors: which list they page and the position of the last row returned,
 * base64url so nobody parses them. A cursor of one list is refused by another.
 */
export type CursorKind = 'p' | 'tx' | 'ev' | 'dl' | 'qr';

export function encodeCursor(position: number, kind: CursorKind = 'p'): string {
  return Buffer.from(`${kind}:${position}`).toString('base64url');
}

export class InvalidCursorError extends Error {
  constructor() {
    super('cursor is not one this server issued for this list');
    this.name = 'InvalidCursorError';
  }
}

export function decodeCursor(cursor: string | undefined, kind: CursorKind = 'p'): number | null {
  if (cursor === undefined || cursor === '') return null;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const m = /^([a-z]{1,2}):(\d{1,15})$/.exec(text);
  if (!m || m[1] !== kind) throw new InvalidCursorError();
  return Number(m[2]);
}

/**
 * A cursor of deliveries, which are ordered by their event's log position and then by
 * destination name (deliveries read back from the log have no row, and so no seq of their own).
 */
export function encodeDeliveryCursor(position: { seq: number; destination: string }): string {
  return Buffer.from(`dl:${position.seq}:${position.destination}`).toString('base64url');
}

export function decodeDeliveryCursor(cursor: string | undefined): { seq: number; destination: string } | null {
  if (cursor === undefined || cursor === '') return null;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const m = /^dl:(\d{1,15}):(.{1,300})$/s.exec(text);
  if (!m) throw new InvalidCursorError();
  return { seq: Number(m[1]), destination: m[2]! };
}

/**
 * A cursor of transactions, which are listed by last activity (last_received_at descending, then
 * seq descending): the last row's receipt time (epoch ms) and seq. A cursor of the list before it
 * was ordered so (`tx:<seq>`) is refused.
 */
export function encodeActivityCursor(position: { at: Date; seq: number }): string {
  return Buffer.from(`tx:${position.at.getTime()}:${position.seq}`).toString('base64url');
}

export function decodeActivityCursor(cursor: string | undefined): { at: Date; seq: number } | null {
  if (cursor === undefined || cursor === '') return null;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const m = /^tx:(\d{1,15}):(\d{1,15})$/.exec(text);
  if (!m) throw new InvalidCursorError();
  return { at: new Date(Number(m[1])), seq: Number(m[2]) };
}
