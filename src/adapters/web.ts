import type { IngestPipeline, IngestResponse } from '../ingest/index.js';
import type { IngestRequestHead } from '../ingest/types.js';
import { internalErrorResponse } from './internal-error.js';

/** Reads a Web stream up to `limit` bytes, cancelling it past the limit. */
async function readLimited(request: Request, limit: number): Promise<{ body: Uint8Array; tooLarge: boolean }> {
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    await request.body?.cancel().catch(() => undefined);
    return { body: new Uint8Array(0), tooLarge: true };
  }
  if (!request.body) return { body: new Uint8Array(0), tooLarge: false };
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      return { body: new Uint8Array(0), tooLarge: true };
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    body.set(c, offset);
    offset += c.byteLength;
  }
  return { body, tooLarge: false };
}

/**
 * A Web `Headers` object has already joined a repeated header into one value (", " between the
 * copies), and keeps no record of the copies; `Authorization` pairs included, which Node would
 * have cut to the first. So no `rawHeaders` can be handed on here: the pipeline refuses instead a
 * credential header whose value can only be copies joined into one (src/auth/repeated-headers.ts).
 * Left alone, `wrong, <secret>` would pass the shared-secret check, which compares the last token.
 */
function headersOf(request: Request): Record<string, string> {
  const out: Record<string, string> = {};
  request.headers.forEach((value, name) => {
    out[name] = value;
  });
  return out;
}

async function handleWithBody(p: IngestPipeline, request: Request, head: IngestRequestHead): Promise<IngestResponse> {
  const { body, tooLarge } = await readLimited(request, p.maxBodyBytes);
  return p.handle({ ...head, body, bodyTooLarge: tooLarge });
}

/**
 * The ingest pipeline as a Web `(Request) => Response` handler: Hono, Next.js route handlers,
 * Bun, Deno, Cloudflare-style runtimes. Pass the client address when the runtime knows it (the
 * allow-list needs it).
 */
export function createFetchHandler(
  pipeline: Promise<IngestPipeline> | IngestPipeline,
  onError?: (err: unknown) => void,
) {
  return async function docvFetchHandler(request: Request, info?: { remoteAddress?: string }): Promise<Response> {
    try {
      const p = await pipeline;
      const head = { method: request.method, headers: headersOf(request), remoteAddress: info?.remoteAddress };
      // Method, allow-list and failure limiter before the body is read, as in the other adapters;
      // what happens to the unread body is the runtime's business.
      const refusal = p.admit(head);
      const response = refusal ?? (await handleWithBody(p, request, head));
      return new Response(response.body, { status: response.status, headers: response.headers });
    } catch (err) {
      onError?.(err);
      const response = internalErrorResponse();
      return new Response(response.body, { status: response.status, headers: response.headers });
    }
  };
}
