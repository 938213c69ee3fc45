import type { FastifyInstance } from 'fastify';
import { isRfc3339DateTime } from '../contract/index.js';
import { PROBLEM_CONTENT_TYPE, problem, type IngestResponse, type ReprocessRequest } from '../ingest/index.js';
import { MAX_PAGE_LIMIT, type QuarantineEntry, type QuarantineFilter, type QuarantineStore } from '../store/index.js';
import { sourceParamProblem, sourceProperty } from './admin-routes.js';

const DEFAULT_LIMIT = 50;
/** Most rows one bulk reprocess runs through ingest: each is a commit; a bigger job is paged by the caller. */
export const MAX_REPROCESS_BATCH = 1_000;

/** The filters of the quarantine, shared by the listing and the bulk reprocess. */
const filterProperties = {
  reason: { type: 'string', maxLength: 64 },
  status: { type: 'integer', minimum: 100, maximum: 599 },
  reprocessed: { type: 'boolean' },
  /** Only bodies refused at this source's endpoint. */
  source: sourceProperty,
  from: { type: 'string', maxLength: 64 },
  to: { type: 'string', maxLength: 64 },
} as const;

interface FilterQuery {
  reason?: string;
  status?: number;
  reprocessed?: boolean;
  source?: string;
  from?: string;
  to?: string;
}

/** What one row gave when run through ingest again. */
export interface ReprocessItem {
  quarantineId: string;
  outcome: string;
  status: number;
  eventId: string | null;
  /** The problem the body still gets, when it is still refused. */
  problem?: unknown;
}

class BadFilter extends Error {}

function instant(value: string | undefined, name: string): Date | undefined {
  if (value === undefined) return undefined;
  if (!isRfc3339DateTime(value))
    throw new BadFilter(
      `${name} must be an RFC 3339 date-time such as 2026-03-01T00:00:00Z, got ${JSON.stringify(value.slice(0, 64))}`,
    );
  return new Date(value);
}

function toFilter(query: FilterQuery, limit: number, cursor?: string): QuarantineFilter {
  const badSource = sourceParamProblem(query.source);
  if (badSource !== null) throw new BadFilter(badSource);
  return {
    limit,
    cursor,
    reason: query.reason,
    status: query.status,
    reprocessed: query.reprocessed,
    source: query.source,
    from: instant(query.from, 'from'),
    to: instant(query.to, 'to'),
  };
}

function badRequest(message: string): string {
  return JSON.stringify(problem(400, 'bad-request', 'Bad Request', message));
}

/** Runs a quarantined body through ingest. */
export type Reprocess = (request: ReprocessRequest) => Promise<IngestResponse>;

/** What a bulk reprocess did, counted by outcome. */
export interface ReprocessSummary {
  processed: number;
  accepted: number;
  duplicate: number;
  stillRejected: number;
  unavailable: number;
  /** Rows whose body was kept only in part: they cannot be run again. */
  skippedTruncated: number;
  items: ReprocessItem[];
}

/**
 * Runs one quarantined row through ingest again and records what it gave (the admin API and the
 * dashboard both reprocess through here).
 */
export async function reprocessQuarantineEntry(
  store: QuarantineStore,
  reprocess: Reprocess,
  entry: QuarantineEntry,
): Promise<ReprocessItem> {
  const response = await reprocess({
    body: Buffer.from(entry.body, 'utf8'),
    headers: entry.headers,
    receivedAt: new Date(entry.receivedAt),
    // Through the pipeline of the source that refused it, never another's.
    source: entry.source,
  });
  const eventId = response.eventId ?? null;
  const ok = response.status >= 200 && response.status < 300;
  // A row whose body could not be stored now (the store is down, its source is not configured
  // now) stays as it was: try again later.
  if (response.outcome !== 'unavailable' && response.retryLater !== true) {
    await store.markQuarantineReprocessed(entry.quarantineId, {
      at: new Date().toISOString(),
      outcome: response.outcome,
      status: response.status,
      eventId,
    });
  }
  return {
    quarantineId: entry.quarantineId,
    outcome: response.outcome,
    status: response.status,
    eventId,
    ...(ok ? {} : { problem: JSON.parse(response.body) as unknown }),
  };
}

/** Reprocesses at most `limit` rows that match `filter` (its cursor and page size are ours to set). */
export async function reprocessQuarantine(
  store: QuarantineStore,
  reprocess: Reprocess,
  filter: QuarantineFilter,
  limit: number,
): Promise<ReprocessSummary> {
  let page: QuarantineFilter = { ...filter, cursor: undefined };
  const items: ReprocessItem[] = [];
  let skipped = 0;
  // Bounded: at most `limit` rows, in pages; the oldest rows are reached by calling again.
  for (let pages = 0; items.length + skipped < limit && pages < Math.ceil(MAX_REPROCESS_BATCH / 10) + 1; pages++) {
    const found = await store.listQuarantine({
      ...page,
      limit: Math.min(MAX_PAGE_LIMIT, limit - items.length - skipped),
    });
    for (const entry of found.items) {
      if (entry.bodyTruncated) skipped++;
      else items.push(await reprocessQuarantineEntry(store, reprocess, entry));
    }
    if (found.nextCursor === null) break;
    page = { ...page, cursor: found.nextCursor };
  }
  const count = (outcome: string) => items.filter((i) => i.outcome === outcome).length;
  return {
    processed: items.length,
    accepted: count('accepted'),
    duplicate: count('duplicate'),
    stillRejected: items.filter((i) => i.status >= 400 && i.outcome !== 'unavailable').length,
    unavailable: count('unavailable'),
    skippedTruncated: skipped,
    items,
  };
}

/**
 * The quarantine over HTTP: list it, read a row, and run rows through ingest again after an
 * upgrade or a `--dialect` change. A reprocessed body keeps its original receipt time and is
 * deduplicated as usual, so running a row twice (or a row whose event Socure has since retried
 * successfully) stores nothing twice.
 */
export async function adminQuarantineRoutes(
  app: FastifyInstance,
  options: { store: QuarantineStore; reprocess: Reprocess },
): Promise<void> {
  const { store } = options;
  const reprocessEntry = (entry: QuarantineEntry) => reprocessQuarantineEntry(store, options.reprocess, entry);

  app.get<{ Querystring: FilterQuery & { limit: number; cursor?: string } }>(
    '/v1/quarantine',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE_LIMIT, default: DEFAULT_LIMIT },
            cursor: { type: 'string', maxLength: 200 },
            ...filterProperties,
          },
        },
      },
    },
    async (request, reply) => {
      try {
        return await store.listQuarantine(toFilter(request.query, request.query.limit, request.query.cursor));
      } catch (err) {
        if (err instanceof BadFilter)
          return reply.code(400).header('content-type', PROBLEM_CONTENT_TYPE).send(badRequest(err.message));
        throw err;
      }
    },
  );

  app.get<{ Params: { quarantineId: string } }>('/v1/quarantine/:quarantineId', async (request, reply) => {
    const entry = await store.getQuarantine(request.params.quarantineId);
    if (!entry)
      return reply.code(404).header('content-type', PROBLEM_CONTENT_TYPE).send(notFound(request.params.quarantineId));
    return entry;
  });

  app.post<{ Params: { quarantineId: string } }>('/v1/quarantine/:quarantineId/reprocess', async (request, reply) => {
    const entry = await store.getQuarantine(request.params.quarantineId);
    if (!entry)
      return reply.code(404).header('content-type', PROBLEM_CONTENT_TYPE).send(notFound(request.params.quarantineId));
    if (entry.bodyTruncated) return reply.code(409).header('content-type', PROBLEM_CONTENT_TYPE).send(truncated(entry));
    return reprocessEntry(entry);
  });

  app.post<{ Body: (FilterQuery & { limit?: number }) | undefined }>(
    '/v1/quarantine/reprocess',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...filterProperties,
            limit: { type: 'integer', minimum: 1, maximum: MAX_REPROCESS_BATCH, default: 100 },
          },
        },
      },
    },
    async (request, reply) => {
      const query = request.body ?? {};
      const limit = query.limit ?? 100;
      let filter: QuarantineFilter;
      try {
        filter = toFilter(query, Math.min(limit, MAX_PAGE_LIMIT));
      } catch (err) {
        if (err instanceof BadFilter)
          return reply.code(400).header('content-type', PROBLEM_CONTENT_TYPE).send(badRequest(err.message));
        throw err;
      }
      return reprocessQuarantine(store, options.reprocess, filter, limit);
    },
  );
}

function notFound(id: string): string {
  return JSON.stringify(
    problem(404, 'not-found', 'Not Found', `no quarantined delivery ${JSON.stringify(id.slice(0, 300))}`),
  );
}

function truncated(entry: QuarantineEntry): string {
  return JSON.stringify(
    problem(
      409,
      'body-truncated',
      'Conflict',
      `only ${entry.body.length} of the ${entry.bodySize} bytes of this body were kept, so it cannot be run through ingest again`,
    ),
  );
}
