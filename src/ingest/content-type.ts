/**
 * JSON media types: application/json and any application/*+json, with parameters. A charset
 * other than UTF-8 is refused rather than guessed (RFC 8259 requires UTF-8 between systems).
 */
export function jsonContentTypeProblem(header: string | undefined): string | null {
  if (header === undefined || header.trim() === '') return 'Content-Type is missing; send application/json';
  const [mediaType = '', ...params] = header.split(';').map((p) => p.trim());
  const type = mediaType.toLowerCase();
  if (type !== 'application/json' && !/^application\/[a-z0-9.+-]+\+json$/.test(type)) {
    return `Content-Type "${mediaType.slice(0, 100)}" is not JSON; send application/json`;
  }
  for (const param of params) {
    const [name = '', value = ''] = param.split('=').map((s) => s.trim().toLowerCase());
    if (name === 'charset' && value.replace(/"/g, '') !== 'utf-8' && value.replace(/"/g, '') !== 'utf8') {
      return `charset "${value.slice(0, 40)}" is not supported; send UTF-8`;
    }
  }
  return null;
}

/**
 * Bodies are taken as sent: a compressed body would be stored and hashed as bytes nobody can read
 * back, so anything but identity is refused rather than silently misread.
 */
export function contentEncodingProblem(header: string | undefined): string | null {
  if (header === undefined) return null;
  const codings = header
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  return codings.length === 0
    ? null
    : `Content-Encoding "${header.slice(0, 60)}" is not supported; send the body uncompressed`;
}
