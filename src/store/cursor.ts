/** Opaque page cursors: the position of the last row returned, base64url so nobody parses them. */
export function encodeCursor(position: number): string {
  return Buffer.from(`p:${position}`).toString('base64url');
}

export class InvalidCursorError extends Error {
  constructor() {
    super('cursor is not one this server issued');
    this.name = 'InvalidCursorError';
  }
}

export function decodeCursor(cursor: string | undefined): number | null {
  if (cursor === undefined || cursor === '') return null;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const m = /^p:(\d{1,15})$/.exec(text);
  if (!m) throw new InvalidCursorError();
  return Number(m[1]);
}
