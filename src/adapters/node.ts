import type { IncomingMessage, ServerResponse } from 'node:http';
import type { IngestPipeline, IngestResponse } from '../ingest/index.js';
import { PROBLEM_CONTENT_TYPE, problem } from '../ingest/index.js';
import { internalErrorResponse } from './internal-error.js';

/** Express and friends put the parsed body here; we need the bytes as sent. */
type WithBody = IncomingMessage & { body?: unknown };

const ALREADY_PARSED =
  'the request body was already parsed by a JSON middleware; mount the DocV handler before express.json(), or use express.raw({ type: "*/*" }) for its route, so signatures can be checked on the exact bytes';

/**
 * Reads the body up to `limit` bytes. Stops reading (and says so) at the limit instead of
 * buffering whatever a client chooses to send.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<{ body: Buffer; tooLarge: boolean }> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.resolve({ body: Buffer.alloc(0), tooLarge: true });
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        req.pause();
        resolve({ body: Buffer.alloc(0), tooLarge: true });
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!done) resolve({ body: Buffer.concat(chunks), tooLarge: false });
    });
    req.on('error', (err) => {
      if (!done) reject(err);
    });
  });
}

function write(res: ServerResponse, response: IngestResponse, closeConnection = false): void {
  res.statusCode = response.status;
  for (const [name, value] of Object.entries(response.headers)) res.setHeader(name, value);
  if (closeConnection) res.setHeader('connection', 'close');
  res.end(response.body);
}

/**
 * The ingest pipeline as a Node.js `(req, res)` handler: for `http.createServer`, Express,
 * Connect and anything else built on Node's request and response objects.
 */
export function createNodeHandler(
  pipeline: Promise<IngestPipeline> | IngestPipeline,
  onError?: (err: unknown) => void,
) {
  return async function docvNodeHandler(
    req: IncomingMessage,
    res: ServerResponse,
    next?: (err?: unknown) => void,
  ): Promise<void> {
    try {
      const p = await pipeline;
      const pre = (req as WithBody).body;
      const head = { method: req.method ?? 'GET', headers: req.headers, remoteAddress: req.socket.remoteAddress };
      // Method, allow-list and failure limiter first, before a byte of the body is read: a blocked
      // address gets its 403 or 429 now, not once it has sent (or stopped sending) what it announced.
      // Node would wait for the unread rest before taking the next request, so the connection is
      // closed after the answer unless the whole request is in (a body parser in front read it).
      const refusal = p.admit(head);
      if (refusal !== null) {
        write(res, refusal, !req.complete);
        return;
      }
      let body: Buffer;
      let tooLarge = false;
      if (Buffer.isBuffer(pre)) body = pre;
      else if (typeof pre === 'string') body = Buffer.from(pre, 'utf8');
      else if (pre !== undefined && pre !== null) {
        const p500 = problem(500, 'body-already-parsed', 'Internal Server Error', ALREADY_PARSED);
        onError?.(new Error(ALREADY_PARSED));
        write(res, {
          status: 500,
          headers: { 'content-type': PROBLEM_CONTENT_TYPE },
          body: JSON.stringify(p500),
          outcome: 'unavailable',
        });
        return;
      } else ({ body, tooLarge } = await readBody(req, p.maxBodyBytes));
      const response = await p.handle({ ...head, rawHeaders: req.rawHeaders, body, bodyTooLarge: tooLarge });
      write(res, response, tooLarge);
    } catch (err) {
      onError?.(err);
      if (next) return next(err);
      if (!res.headersSent) write(res, internalErrorResponse());
    }
  };
}
