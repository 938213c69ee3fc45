import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SourceSummary } from '../../compose/source-summary.js';
import { DEFAULT_SOURCE, eventTimeMs, sourceNameProblem } from '../../contract/index.js';
import type { StoredEventSummary, Store, TransactionSummary } from '../../store/index.js';
import { SECURITY_HEADERS } from '../security-headers.js';
import { EVENT_COLUMNS, eventRow } from './event-pages.js';
import { tableRow } from './html.js';
import { PAGE_CSP } from './parts.js';
import { sourceChoices } from './sources.js';
import { timelineItem } from './timeline.js';
import { TRANSACTION_COLUMNS, transactionRow } from './transactions-pages.js';

/** Streams open at once, across all pages and people: each costs a socket and a share of the polls. */
export const MAX_LIVE_STREAMS = 20;
/** A stream ends after this; the browser's EventSource reconnects (and resumes from its last event id). */
export const STREAM_LIFETIME_MS = 10 * 60_000;
/** A comment now and then keeps proxies and the connection timeout from closing a quiet stream. */
export const HEARTBEAT_MS = 15_000;
/** How often the store is asked for new events while a stream is open. */
const POLL_MS = 1_000;
/** Events read per poll: more than that in a second and the streams are told they missed some (`gap`). */
const POLL_PAGE = 50;
/** Counts are read at most this often (they change with every event; a page does not need each change). */
const COUNTS_EVERY_MS = 5_000;
/** A transaction's deliveries are re-read this often for its page's state badges. */
const DELIVERIES_EVERY_MS = 2_000;
const MAX_TRANSACTION_DELIVERIES = 200;
/** Recent messages kept so a stream that reconnects (Last-Event-ID) gets what it missed. */
const RECENT = 200;
/** The hub forgets where it was after being idle this long: a fresh page shows everything up to now. */
const FORGET_AFTER_MS = 10_000;
const EVENT_ID_MAX = 200;

/** Options for tests (shorter lifetime and heartbeat). */
export interface LiveOptions {
  lifetimeMs?: number;
  heartbeatMs?: number;
  pollMs?: number;
  /** The receiver's sources (DashboardOptions.listSources): rows are rendered as the pages render them. */
  listSources?: (() => SourceSummary[]) | undefined;
}

interface EventMessage {
  eventId: string;
  docvTransactionId: string | null;
  source: string;
  eventType: string;
  receivedAt: string;
  status: string | null;
  decision: string | null;
  /** Rows rendered (and escaped) by the server, keyed by the `data-live-rows` they belong in. */
  rows: Record<string, string>;
}

interface Stream {
  reply: FastifyReply;
  transaction: string | undefined;
  /** With `transaction`: that source's transaction of the id (the default source when the page named none). */
  source: string;
  timers: NodeJS.Timeout[];
}

/** A watched transaction: its id under its source (two sources' transactions of one id are watched apart). */
function watchKey(stream: Pick<Stream, 'transaction' | 'source'>): string | undefined {
  return stream.transaction === undefined ? undefined : JSON.stringify([stream.transaction, stream.source]);
}

function send(stream: Stream, event: string, data: unknown, id?: string): void {
  const lines = `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
  stream.reply.raw.write(lines);
}

function eventMessage(e: StoredEventSummary, t: TransactionSummary | undefined, manySources: boolean): EventMessage {
  const rows: Record<string, string> = { events: tableRow(EVENT_COLUMNS, eventRow(e, manySources)).text };
  if (t !== undefined) {
    rows.transactions = tableRow(TRANSACTION_COLUMNS, transactionRow(t, manySources)).text;
    // The newest arrival came late when the transaction already had a later event time.
    rows.timeline = timelineItem(e, {
      outOfOrder: eventTimeMs(e.eventTime) < eventTimeMs(t.lastEventAt),
      fresh: true,
      manySources,
    }).text;
  }
  return {
    eventId: e.eventId,
    docvTransactionId: e.docvTransactionId,
    source: e.source,
    eventType: e.eventType,
    receivedAt: e.receivedAt,
    status: t?.status ?? null,
    decision: t?.decision ?? null,
    rows,
  };
}

/**
 * One poller for every open stream: new events are read once a second whoever watches, counts
 * every few seconds, and each watched transaction's deliveries every two; nothing runs while no
 * stream is open. (The store is polled rather than woken by ingest so a dashboard on another
 * instance of the same PostgreSQL sees every instance's events.)
 */
class LiveHub {
  readonly streams = new Set<Stream>();
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  private newest: string | null = null;
  private stoppedAt = 0;
  private readonly recent: EventMessage[] = [];
  private lastCounts = '';
  private countsAt = 0;
  private deliveriesAt = 0;
  private readonly deliveryStates = new Map<string, Map<string, string>>();

  constructor(
    private readonly store: Store,
    private readonly log: FastifyInstance['log'],
    private readonly pollMs: number,
    private readonly listSources: LiveOptions['listSources'],
  ) {}

  add(stream: Stream, since: string | undefined): void {
    // A transaction nobody watched yet: read its deliveries at the next poll, so later changes show.
    const key = watchKey(stream);
    if (key !== undefined && !this.deliveryStates.has(key)) this.deliveriesAt = 0;
    this.streams.add(stream);
    if (since !== undefined) {
      const at = this.recent.findIndex((m) => m.eventId === since);
      if (at >= 0) for (const m of this.recent.slice(at + 1)) this.deliver(stream, m);
      else if (this.newest !== null && since !== this.newest) send(stream, 'gap', { since });
    }
    if (this.timer === null) {
      if (Date.now() - this.stoppedAt > FORGET_AFTER_MS && since === undefined) this.newest = null;
      this.timer = setInterval(() => void this.poll(), this.pollMs);
      void this.poll();
    }
  }

  remove(stream: Stream): void {
    this.streams.delete(stream);
    const key = watchKey(stream);
    if (key !== undefined && ![...this.streams].some((s) => watchKey(s) === key)) this.deliveryStates.delete(key);
    if (this.streams.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
      this.stoppedAt = Date.now();
    }
  }

  private deliver(stream: Stream, m: EventMessage): void {
    if (stream.transaction !== undefined && (m.docvTransactionId !== stream.transaction || m.source !== stream.source))
      return;
    send(stream, 'event', m, m.eventId);
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      await this.pollEvents();
      const now = Date.now();
      if (now - this.countsAt >= COUNTS_EVERY_MS) {
        this.countsAt = now;
        await this.pollCounts();
      }
      if (now - this.deliveriesAt >= DELIVERIES_EVERY_MS) {
        this.deliveriesAt = now;
        await this.pollDeliveries();
      }
    } catch (err) {
      this.log.warn({ err }, 'dashboard live updates: reading the store failed');
    } finally {
      this.polling = false;
    }
  }

  private async pollEvents(): Promise<void> {
    const page = await this.store.listEvents({ limit: POLL_PAGE });
    const first = page.items[0];
    if (first === undefined) return;
    if (this.newest === null) {
      this.newest = first.eventId;
      return;
    }
    const at = page.items.findIndex((e) => e.eventId === this.newest);
    if (at === 0) return;
    if (at < 0) for (const s of this.streams) send(s, 'gap', { since: this.newest });
    const fresh = (at < 0 ? page.items : page.items.slice(0, at)).reverse();
    this.newest = first.eventId;
    // Transactions by last activity, newest first: the ones these events touched are on top.
    // Keyed by id and source: the same id under two sources is two transactions.
    const key = (id: string, source: string) => JSON.stringify([id, source]);
    const touched = new Set(
      fresh.filter((e) => e.docvTransactionId !== null).map((e) => key(e.docvTransactionId!, e.source)),
    );
    const summaries = new Map<string, TransactionSummary>();
    if (touched.size > 0) {
      const list = await this.store.listTransactions({ limit: Math.min(POLL_PAGE, touched.size + 10) });
      for (const t of list.items) {
        const k = key(t.docvTransactionId, t.source);
        if (touched.has(k)) summaries.set(k, t);
      }
    }
    const manySources = sourceChoices({ listSources: this.listSources }).many;
    for (const e of fresh) {
      const m = eventMessage(
        e,
        e.docvTransactionId === null ? undefined : summaries.get(key(e.docvTransactionId, e.source)),
        manySources,
      );
      this.recent.push(m);
      if (this.recent.length > RECENT) this.recent.shift();
      for (const s of this.streams) this.deliver(s, m);
    }
    this.countsAt = 0;
  }

  private async pollCounts(): Promise<void> {
    const stats = await this.store.stats();
    const counts: Record<string, number> = {
      events: stats.events,
      transactions: stats.transactions,
      quarantine: stats.quarantine,
    };
    for (const [status, n] of Object.entries(stats.transactionsByStatus)) counts[`status:${status}`] = n;
    for (const [decision, n] of Object.entries(stats.transactionsByDecision ?? {})) counts[`decision:${decision}`] = n;
    for (const [state, n] of Object.entries(stats.deliveries)) counts[`deliveries:${state}`] = n;
    const text = JSON.stringify(counts);
    if (text === this.lastCounts) return;
    this.lastCounts = text;
    for (const s of this.streams) if (s.transaction === undefined) send(s, 'counts', { counts });
  }

  private async pollDeliveries(): Promise<void> {
    const watched = new Map<string, { transaction: string; source: string }>();
    for (const s of this.streams) {
      const key = watchKey(s);
      if (key !== undefined) watched.set(key, { transaction: s.transaction!, source: s.source });
    }
    for (const [key, { transaction, source }] of watched) {
      const list = await this.store.listDeliveries({
        docvTransactionId: transaction,
        source,
        limit: MAX_TRANSACTION_DELIVERIES,
      });
      const before = this.deliveryStates.get(key);
      const now = new Map(list.items.map((d) => [d.deliveryId, `${d.state}:${d.attempts}`]));
      this.deliveryStates.set(key, now);
      if (before === undefined) continue;
      for (const d of list.items) {
        if (before.get(d.deliveryId) === now.get(d.deliveryId)) continue;
        const change = {
          deliveryId: d.deliveryId,
          state: d.state,
          attempts: d.attempts,
          known: before.has(d.deliveryId),
        };
        for (const s of this.streams) if (watchKey(s) === key) send(s, 'delivery', change);
      }
    }
  }

  closeAll(): void {
    for (const s of [...this.streams]) {
      s.reply.raw.end();
      for (const t of s.timers) clearTimeout(t);
      this.remove(s);
    }
  }
}

function firstString(value: unknown): string | undefined {
  const v = Array.isArray(value) ? (value[0] as unknown) : value;
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * `GET /dashboard/live`: server-sent events for the pages that carry `data-live` (script.ts).
 * Messages: `event` (a new event, the transaction's status and decision, and its rows rendered for
 * each list), `counts` (the overview's numbers, when they change), `delivery` (a watched
 * transaction's delivery changed state), `gap` (more arrived than one poll reads: reload).
 * `?transaction=<id>` narrows to one transaction (`&source=` names its source; the default one
 * otherwise). At most MAX_LIVE_STREAMS at once (503 beyond).
 */
export function liveRoutes(app: FastifyInstance, store: Store, options: LiveOptions = {}): void {
  const hub = new LiveHub(store, app.log, options.pollMs ?? POLL_MS, options.listSources);
  const lifetime = options.lifetimeMs ?? STREAM_LIFETIME_MS;
  const heartbeat = options.heartbeatMs ?? HEARTBEAT_MS;
  app.addHook('preClose', async () => hub.closeAll());

  app.get('/dashboard/live', async (request: FastifyRequest, reply: FastifyReply) => {
    if (hub.streams.size >= MAX_LIVE_STREAMS)
      return reply
        .code(503)
        .header('retry-after', '30')
        .type('text/plain; charset=utf-8')
        .send('too many live update streams are open; retry later');
    const query = (request.query ?? {}) as Record<string, unknown>;
    const transaction = firstString(query.transaction)?.slice(0, 1024);
    const named = firstString(query.source);
    const source = named !== undefined && sourceNameProblem(named) === null ? named : DEFAULT_SOURCE;
    const lastEventId = request.headers['last-event-id'];
    const since = (
      typeof lastEventId === 'string' && lastEventId !== '' ? lastEventId : firstString(query.since)
    )?.slice(0, EVENT_ID_MAX);
    reply.hijack();
    reply.raw.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-security-policy': PAGE_CSP,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      // Proxies that buffer responses (nginx) would hold the messages back.
      'x-accel-buffering': 'no',
    });
    reply.raw.write('retry: 3000\n: live updates\n\n');
    const stream: Stream = { reply, transaction, source, timers: [] };
    const end = () => {
      for (const t of stream.timers) clearTimeout(t);
      hub.remove(stream);
    };
    const beat = setInterval(() => reply.raw.write(': heartbeat\n\n'), heartbeat);
    const expire = setTimeout(() => {
      end();
      reply.raw.end();
    }, lifetime);
    stream.timers.push(beat, expire);
    request.raw.on('close', end);
    reply.raw.on('close', end);
    hub.add(stream, since);
  });
}
