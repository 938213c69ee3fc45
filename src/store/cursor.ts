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
