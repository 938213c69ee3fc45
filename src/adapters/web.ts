import type { IngestPipeline } from '../ingest/index.js';
import { PROBLEM_CONTENT_TYPE, problem } from '../ingest/index.js';

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

function headersOf(request: Request): Record<string, string> {
  const out: Record<string, string> = {};
  request.headers.forEach((value, name) => {
    out[name] = value;
  });
  return out;
}

/**
 * The ingest pipeline as a Web `(Request) => Response` handler: Hono, Next.js route handlers,
 * Bun, Deno, Cloudflare-style runtimes. Pass the client address when the runtime knows it (the
 * allow-list needs it).
 */
export function createFetchHandler(pipeline: Promise<IngestPipeline> | IngestPipeline, onError?: (err: unknown) => void) {
  return async function docvFetchHandler(request: Request, info?: { remoteAddress?: string }): Promise<Response> {
    try {
      const p = await pipeline;
      const { body, tooLarge } = await readLimited(request, p.maxBodyBytes);
      const response = await p.handle({ method: request.method, headers: headersOf(request), remoteAddress: info?.remoteAddress, body, bodyTooLarge: tooLarge });
      return new Response(response.body, { status: response.status, headers: response.headers });
    } catch (err) {
      onError?.(err);
      return new Response(JSON.stringify(problem(500, 'internal', 'Internal Server Error', 'the delivery could not be processed; it was not stored, retry later')), {
        status: 500,
        headers: { 'content-type': PROBLEM_CONTENT_TYPE },
      });
    }
  };
}
