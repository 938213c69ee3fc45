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
  /** Told each answer, how long it took and the source whose endpoint answered (serve's metrics). */
  onResponse?: ((response: IngestResponse, latencyMs: number, source: string) => void) | undefined;
}

/**
 * Where the sources plugin finds the pipeline of a request: the server's source router, whose
 * table a reload replaces while the server runs.
 */
export interface PipelineResolver {
  /** The pipeline of the source served at `path` (no query string), or undefined: nothing is served there. */
  pipelineForPath(path: string): IngestPipeline | undefined;
  /** The body limit of every source (the content-type parser is set up once, at registration). */
  readonly maxBodyBytes: number;
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
  return async (app) => {
    const resolved = await pipeline;
    await mountIngest(
      app,
      { url: options.path ?? DEFAULT_WEBHOOK_PATH, maxBodyBytes: resolved.maxBodyBytes, resolve: () => resolved },
      options,
    );
  };
}

/**
 * Every source of a receiver on one fastify app (`docv-webhooks serve`), each at its own path,
 * looked up per request: fastify cannot add routes once it listens, and a reload changes the
 * paths. One wildcard route takes every method on every path no other route has (fastify prefers
 * static and parametric routes, so the admin API, dashboard and health routes keep theirs); a path
 * no source serves gets the app's 404 before its body is read.
 */
export function createFastifySourcesPlugin(
  sources: PipelineResolver,
  options: Omit<FastifyAdapterOptions, 'path'> = {},
): DocvFastifyPlugin {
  return async (app) =>
    mountIngest(
      app,
      {
        url: SOURCES_ROUTE,
        maxBodyBytes: sources.maxBodyBytes,
        resolve: (request) => sources.pipelineForPath(pathOf(request.url)),
      },
      options,
    );
}

/** The route of the sources plugin, as `request.routeOptions.url` reads for its requests. */
export const SOURCES_ROUTE = '/*';

/** The path of a request URL: the query string is no part of where a source is served. */
function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}

function announcesBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** The pipeline a request was resolved to in onRequest, for the handler and the error handler. */
const PIPELINE = Symbol('pipeline of this request');
type ResolvedRequest = IncomingMessage & { [PIPELINE]?: IngestPipeline };

interface IngestMount {
  url: string;
  maxBodyBytes: number;
  /** The pipeline that answers this request; undefined: nothing is served at its path (404). */
  resolve(request: FastifyRequest): IngestPipeline | undefined;
}

async function mountIngest(app: FastifyInstance, mount: IngestMount, options: FastifyAdapterOptions): Promise<void> {
  const logger = (options.logger ?? app.log) as Logger;
  // The line per delivery is built here from fixed fields, none of them a credential, so it skips
  // the logger's redaction: the wildcard paths cost about 4 µs a line, a few percent of an ingest.
  const lines = logger.child({}, { redact: [] });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: mount.maxBodyBytes }, (_req, body, done) =>
    done(null, body),
  );
  // The method, the allow-list and the failure limiter decide before fastify reads the body (it
  // reads it between onRequest and the handler): a blocked address that announces a large body and
  // sends part of it gets its 403 or 429 now, not when the request timeout ends the read. Node
  // would wait for the unread rest before taking the next request, so the connection is closed.
  app.addHook('onRequest', (request, reply, done) => {
    const started = process.hrtime.bigint();
    const pipeline = mount.resolve(request);
    if (pipeline === undefined) {
      // No source here: the app's 404, any body left unread (so that connection cannot carry on;
      // one without a body, a crawler's GET /robots.txt, keeps its connection).
      if (!request.raw.complete && announcesBody(request)) reply.header('connection', 'close');
      reply.callNotFound();
      return;
    }
    (request.raw as ResolvedRequest)[PIPELINE] = pipeline;
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
    answer(request, reply, pipeline, refusal, started);
  });

  async function send(
    request: FastifyRequest,
    reply: FastifyReply,
    ingestRequest: IngestRequest,
    started: bigint,
  ): Promise<FastifyReply> {
    const pipeline = (request.raw as ResolvedRequest)[PIPELINE];
    // onRequest resolved it or answered: a request without one never gets this far.
    if (pipeline === undefined) return internalError(reply);
    return answer(request, reply, pipeline, await pipeline.handle(ingestRequest), started);
  }

  function internalError(reply: FastifyReply): FastifyReply {
    const failed = internalErrorResponse();
    return reply.code(failed.status).headers(failed.headers).send(failed.body);
  }

  /** The one log line per delivery, the metrics, then the answer. */
  function answer(
    request: FastifyRequest,
    reply: FastifyReply,
    pipeline: IngestPipeline,
    response: IngestResponse,
    started: bigint,
  ): FastifyReply {
    const latencyMs = Number(process.hrtime.bigint() - started) / 1e6;
    options.onResponse?.(response, latencyMs, pipeline.source);
    const line = {
      reqId: request.id,
      source: pipeline.source,
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
    url: mount.url,
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
    logger.error(
      { reqId: request.id, source: (request.raw as ResolvedRequest)[PIPELINE]?.source, err: error },
      'ingest failed',
    );
    return internalError(reply);
  });
}
