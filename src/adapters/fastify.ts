import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { DEFAULT_WEBHOOK_PATH } from '../contract/index.js';
import type { IngestPipeline, IngestRequest, IngestResponse } from '../ingest/index.js';
import { internalErrorResponse } from './internal-error.js';

export interface FastifyAdapterOptions {
  /** The route; default /socure/docv/webhook (the spec's). Under `register`'s `prefix` when one is given. */
  path?: string;
  /** The line per delivery goes here; default the fastify instance's logger. */
  logger?: Logger | undefined;
  /** Told each answer and how long it took (serve's metrics). */
  onResponse?: ((response: IngestResponse, latencyMs: number) => void) | undefined;
}

/** A fastify plugin: `app.register(plugin)`, or `app.register(plugin, { prefix })`. */
export type DocvFastifyPlugin = (app: FastifyInstance) => Promise<void>;

const EMPTY = new Uint8Array(0);

/**
 * Fastify checks the Content-Type before any body parser runs and answers a malformed one
 * (`;charset=utf-8`, `application/`, `application/json, text/plain`) with a 415 of its own: before the
 * allow-list, the failure limiter and the credential check, so an unauthenticated sender could
 * tell the checks apart. The header is set aside while fastify reads the body as opaque bytes and
 * put back before the pipeline sees the request, so the pipeline keeps its order and judges the
 * content type itself.
 */
const SENT_CONTENT_TYPE = Symbol('content-type as sent');
type RawRequest = IncomingMessage & { [SENT_CONTENT_TYPE]?: string };

function setContentTypeAside(raw: RawRequest): void {
  const value = raw.headers['content-type'];
  if (value === undefined) return;
  raw[SENT_CONTENT_TYPE] = value;
  raw.headers['content-type'] = 'application/octet-stream';
}

function restoreContentType(raw: RawRequest): void {
  const value = raw[SENT_CONTENT_TYPE];
  if (value !== undefined) raw.headers['content-type'] = value;
}

/**
 * The ingest pipeline as a fastify plugin: `docv-webhooks serve` mounts it, and so can an
 * integrator's own fastify app (`receiver.fastifyPlugin()`). Encapsulated (registered as a plain
 * plugin, not `fastify-plugin`): only its route reads bodies as raw bytes of any content type, so
 * the pipeline can verify signatures on exactly what was sent and answer 415 itself, while the
 * app's other routes keep their JSON parser. A pipeline still being built (the library opens its
 * store first) is awaited at registration, so a store that cannot open fails `app.ready()`.
 */
export function createFastifyPlugin(
  pipeline: Promise<IngestPipeline> | IngestPipeline,
  options: FastifyAdapterOptions = {},
): DocvFastifyPlugin {
  return async (app) => mountIngest(app, await pipeline, options);
}

async function mountIngest(
  app: FastifyInstance,
  pipeline: IngestPipeline,
  options: FastifyAdapterOptions,
): Promise<void> {
  const logger = (options.logger ?? app.log) as Logger;
  // The line per delivery is built here from fixed fields, none of them a credential, so it skips
  // the logger's redaction: the wildcard paths cost about 4 µs a line, a few percent of an ingest.
  const lines = logger.child({}, { redact: [] });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: pipeline.maxBodyBytes }, (_req, body, done) =>
    done(null, body),
  );
  // The method, the allow-list and the failure limiter decide before fastify reads the body (it
  // reads it between onRequest and the handler): a blocked address that announces a large body and
  // sends part of it gets its 403 or 429 now, not when the request timeout ends the read. Node
  // would wait for the unread rest before taking the next request, so the connection is closed.
  app.addHook('onRequest', (request, reply, done) => {
    const started = process.hrtime.bigint();
    const refusal = pipeline.admit({
      method: request.method,
      headers: request.headers,
      remoteAddress: request.socket.remoteAddress,
    });
    if (refusal === null) {
      setContentTypeAside(request.raw);
      done();
      return;
    }
    if (!request.raw.complete) reply.header('connection', 'close');
    // Answered here, and `done` not called: fastify goes no further (no body read, no handler).
    answer(request, reply, refusal, started);
  });

  async function send(
    request: FastifyRequest,
    reply: FastifyReply,
    ingestRequest: IngestRequest,
    started: bigint,
  ): Promise<FastifyReply> {
    return answer(request, reply, await pipeline.handle(ingestRequest), started);
  }

  /** The one log line per delivery, the metrics, then the answer. */
  function answer(
    request: FastifyRequest,
    reply: FastifyReply,
    response: IngestResponse,
    started: bigint,
  ): FastifyReply {
    const latencyMs = Number(process.hrtime.bigint() - started) / 1e6;
    options.onResponse?.(response, latencyMs);
    const line = {
      reqId: request.id,
      outcome: response.outcome,
      status: response.status,
      latencyMs: Math.round(latencyMs * 100) / 100,
      eventId: response.eventId,
      docvTransactionId: response.docvTransactionId,
      eventType: response.eventType,
      reason: response.logReason,
    };
    if (response.status >= 500) lines.error(line, 'delivery');
    else if (response.status >= 400) lines.warn(line, 'delivery');
    else lines.info(line, 'delivery');
    return reply.code(response.status).headers(response.headers).send(response.body);
  }

  app.route({
    method: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    url: options.path ?? DEFAULT_WEBHOOK_PATH,
    handler: async (request, reply) => {
      const started = process.hrtime.bigint();
      restoreContentType(request.raw);
      const body = Buffer.isBuffer(request.body) ? request.body : EMPTY;
      return send(
        request,
        reply,
        {
          method: request.method,
          headers: request.headers,
          rawHeaders: request.raw.rawHeaders,
          remoteAddress: request.socket.remoteAddress,
          body,
        },
        started,
      );
    },
  });

  // Errors raised while reading the body (too large, broken framing, a failed stream) come here,
  // not to the handler. They go through the pipeline all the same, so the allow-list, the failure
  // limiter and the credential check come first: an unauthenticated sender gets its 401 (or 403,
  // 429) whatever state its body is in, never a 400 that skips them.
  app.setErrorHandler(async (error: Error & { code?: string; statusCode?: number }, request, reply) => {
    const started = process.hrtime.bigint();
    restoreContentType(request.raw);
    const meta = {
      method: request.method,
      headers: request.headers,
      rawHeaders: request.raw.rawHeaders,
      remoteAddress: request.socket.remoteAddress,
      body: EMPTY,
    };
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      reply.header('connection', 'close');
      return send(request, reply, { ...meta, bodyTooLarge: true }, started);
    }
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      // Whatever is left of the body is unread: the connection cannot carry another request.
      reply.header('connection', 'close');
      return send(request, reply, { ...meta, bodyUnreadable: error.message }, started);
    }
    logger.error({ reqId: request.id, err: error }, 'ingest failed');
    const failed = internalErrorResponse();
    return reply.code(failed.status).headers(failed.headers).send(failed.body);
  });
}
