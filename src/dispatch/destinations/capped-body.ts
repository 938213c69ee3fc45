/**
 * Response bodies read up to a limit. `content-length` is only a claim, and a chunked answer has
 * none: the limit is enforced on the bytes as they arrive, and the rest is never read.
 */
export type CappedBody = { ok: true; bytes: Uint8Array } | { ok: false; error: string };

export async function readCapped(res: Response, maxBytes: number): Promise<CappedBody> {
  const declared = Number(res.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    return { ok: false, error: `response of ${declared} bytes is over ${maxBytes}` };
  }
  const prefix = await readPrefix(res, maxBytes);
  if (!prefix.complete) return { ok: false, error: `response is over ${maxBytes} bytes (stopped reading there)` };
  return { ok: true, bytes: prefix.bytes };
}

/** The first bytes of an error body, for the attempt log: enough to debug, bounded (the read too). */
export async function snippet(res: Response, maxChars = 200): Promise<string> {
  try {
    const { bytes, complete } = await readPrefix(res, 4 * maxChars);
    const text = new TextDecoder().decode(bytes);
    return text.length > maxChars || !complete ? `${text.slice(0, maxChars)}…` : text;
  } catch {
    return '';
  }
}

/**
 * Reads until the body ends or more than `limit` bytes have come; then cancels the rest (not
 * worth the transfer) and says the body was not read whole. `bytes` holds at most `limit`.
 */
async function readPrefix(res: Response, limit: number): Promise<{ bytes: Uint8Array; complete: boolean }> {
  if (!res.body) return { bytes: new Uint8Array(0), complete: true };
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { bytes: concat(chunks, total), complete: true };
    chunks.push(value);
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      return { bytes: concat(chunks, total).subarray(0, limit), complete: false };
    }
  }
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
