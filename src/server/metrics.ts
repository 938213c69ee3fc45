import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AttemptOutcome } from '../dispatch/index.js';
import type { IngestResponse } from '../ingest/index.js';
import { DECISION_FETCH_DESTINATION, DELIVERY_STATES, type ClaimedDelivery, type Store } from '../store/index.js';
import { KNOWN_EVENT_TYPES } from '../contract/index.js';
import { TRANSACTION_STATUSES } from '../lifecycle/index.js';
import { REFUSAL_REASONS, type RefusalReason } from './connection-admission.js';

/**
 * The event_type label: a known type, or `other`. Event types are an open set that senders spell,
 * and every distinct label value is a time series kept for the life of the process.
 */
function eventTypeLabel(eventType: string): string {
  return (KNOWN_EVENT_TYPES as readonly string[]).includes(eventType) ? eventType : 'other';
}

export interface ReceiverMetricsOptions {
  /** Node.js process metrics (default on; off where another registry already has them). */
  defaultMetrics?: boolean;
  /**
   * The ingest metrics (deliveries received, acknowledgement latency, events stored); default on.
   * A `worker` receives nothing: series that could only ever read zero would sum into a
   * dashboard as if they meant something.
   */
  ingest?: boolean;
}

/**
 * Prometheus metrics of one receiver or worker. A registry of its own (not prom-client's global
 * one), so several receivers in one process (tests, libraries) do not collide.
 */
export class ReceiverMetrics {
  readonly registry = new Registry();
  private readonly received: Counter<'outcome' | 'status' | 'source'> | null = null;
  private readonly ackLatency: Histogram<'outcome' | 'source'> | null = null;
  private readonly commitBatch: Histogram;
  private readonly eventsStored: Counter<'event_type' | 'source'> | null = null;
  private readonly attempts: Counter<'destination' | 'outcome' | 'source'>;
  private readonly deliveryLag: Histogram<'destination' | 'source'>;
  /** Sources whose event series are declared (at 0) already. */
  private readonly declaredSources = new Set<string>();
  private readonly decisionFetches: Counter<'outcome'>;
  private readonly connectionsRefused: Counter<'reason'>;

  constructor(store: Store, options: ReceiverMetricsOptions = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'docv_' });
    if (options.ingest !== false) {
      this.received = new Counter({
        name: 'docv_deliveries_received_total',
        help: 'Webhook deliveries received, by outcome, HTTP status and source (requests to a path no source serves are not counted)',
        labelNames: ['outcome', 'status', 'source'],
        registers,
      });
      this.ackLatency = new Histogram({
        name: 'docv_ack_latency_seconds',
        help: 'Time from request read to answer, including the durable commit, by outcome and source',
        labelNames: ['outcome', 'source'],
        buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
        registers,
      });
      this.eventsStored = new Counter({
        name: 'docv_events_stored_total',
        help: 'New events committed, by event type and source',
        labelNames: ['event_type', 'source'],
        registers,
      });
    }
    this.commitBatch = new Histogram({
      name: 'docv_commit_batch_size',
      help: 'Writes sharing one durable commit (group commit)',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
      registers,
    });
    this.attempts = new Counter({
      name: 'docv_delivery_attempts_total',
      help: "Outbox delivery attempts by destination, outcome and the event's source",
      labelNames: ['destination', 'outcome', 'source'],
      registers,
    });
    // What a user feels of dispatch: a backlog shows here as lag long before anyone reads the outbox gauge.
    this.deliveryLag = new Histogram({
      name: 'docv_delivery_lag_seconds',
      help: "Time from an event's receipt to its delivery (the destination's success), by destination and the event's source, retries included",
      labelNames: ['destination', 'source'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.decisionFetches = new Counter({
      name: 'docv_decision_fetches_total',
      help: 'Get A DocV Transaction calls by outcome',
      labelNames: ['outcome'],
      registers,
    });
    this.connectionsRefused = new Counter({
      name: 'docv_connections_refused_total',
      help: 'New connections closed at once: per_client (--max-connections-per-client), reserved (the share kept for senders that delivered), full',
      labelNames: ['reason'],
      registers,
    });
    for (const reason of REFUSAL_REASONS) this.connectionsRefused.labels(reason).inc(0);

    // Gauges read the store at scrape time: always true, costs nothing between scrapes.
    let snapshot: Promise<Awaited<ReturnType<Store['stats']>>> | null = null;
    const stats = () => {
      snapshot ??= store.stats().finally(() => setTimeout(() => (snapshot = null), 0));
      return snapshot;
    };
    new Gauge({
      name: 'docv_transactions',
      help: 'Transactions by lifecycle status',
      labelNames: ['status'],
      registers,
      async collect() {
        const s = await stats();
        for (const status of TRANSACTION_STATUSES) this.set({ status }, s.transactionsByStatus[status] ?? 0);
      },
    });
    new Gauge({
      name: 'docv_outbox_deliveries',
      help: 'Outbox deliveries by state',
      labelNames: ['state'],
      registers,
      async collect() {
        const s = await stats();
        for (const state of DELIVERY_STATES) this.set({ state }, s.deliveries[state]);
      },
    });
    new Gauge({
      name: 'docv_quarantine_entries',
      help: 'Rejected authenticated deliveries kept for inspection',
      registers,
      async collect() {
        this.set((await stats()).quarantine);
      },
    });
  }

  /**
   * Ack latency and delivery lag percentiles as this process observed them, read from the
   * histograms (the dashboard's overview). Null for a histogram this process does not keep or that
   * has observed nothing yet: a worker acknowledges nothing, and a receiver whose dispatch runs
   * elsewhere delivers nothing.
   */
  async latencyPercentiles(): Promise<{ ack: Percentiles | null; deliveryLag: Percentiles | null }> {
    return {
      ack: this.ackLatency ? percentilesOf(await this.ackLatency.get()) : null,
      deliveryLag: percentilesOf(await this.deliveryLag.get()),
    };
  }

  /**
   * The sources this process serves: each known event type's series starts at 0, so a rate over
   * it reads from the first event rather than from the second. Label values stay bounded: sources
   * are configured, never named by a sender. A source removed by a reload keeps its series (a
   * counter that vanished would read as a reset).
   */
  declareSources(names: readonly string[]): void {
    if (!this.eventsStored) return;
    for (const source of names) {
      if (this.declaredSources.has(source)) continue;
      this.declaredSources.add(source);
      for (const t of KNOWN_EVENT_TYPES) this.eventsStored.labels(t, source).inc(0);
    }
  }

  /** One answer of a source's endpoint (`source`: the pipeline's). */
  onIngest(response: IngestResponse, latencyMs: number, source: string): void {
    this.received?.labels(response.outcome, String(response.status), source).inc();
    this.ackLatency?.labels(response.outcome, source).observe(latencyMs / 1000);
    if (response.outcome === 'accepted' && response.eventType)
      this.eventsStored?.labels(eventTypeLabel(response.eventType), source).inc();
  }

  onConnectionRefused(reason: RefusalReason): void {
    this.connectionsRefused.labels(reason).inc();
  }

  onCommit(batchSize: number): void {
    this.commitBatch.observe(batchSize);
  }

  onAttempt(delivery: ClaimedDelivery, outcome: AttemptOutcome): void {
    // The event's source as stored: configured names, and `default` for rows from before sources.
    this.attempts.labels(delivery.destination, outcome.outcome, delivery.source).inc();
    if (outcome.outcome === 'delivered') {
      // Receipt may be another instance's clock (several on PostgreSQL): a little behind ours reads as 0.
      const lagMs = Date.now() - Date.parse(delivery.receivedAt);
      if (!Number.isNaN(lagMs))
        this.deliveryLag.labels(delivery.destination, delivery.source).observe(Math.max(0, lagMs) / 1000);
    }
    if (delivery.destination === DECISION_FETCH_DESTINATION) this.decisionFetches.labels(outcome.outcome).inc();
  }
}

/** Percentiles in milliseconds, estimated from histogram buckets. */
export interface Percentiles {
  /** Observations they are taken from. */
  count: number;
  p50: number;
  p95: number;
  p99: number;
}

type HistogramSnapshot = Awaited<ReturnType<Histogram['get']>>;

/**
 * Percentiles over every label of a histogram, interpolated linearly inside the bucket the rank
 * falls in, as Prometheus' histogram_quantile does: right to within a bucket's width. A rank in
 * the +Inf bucket reads as the highest finite bound.
 */
export function percentilesOf(snapshot: HistogramSnapshot): Percentiles | null {
  const cumulative = new Map<number, number>();
  for (const v of snapshot.values) {
    if (v.metricName?.endsWith('_bucket') !== true) continue;
    const le = v.labels.le;
    const bound = le === '+Inf' ? Infinity : Number(le);
    cumulative.set(bound, (cumulative.get(bound) ?? 0) + v.value);
  }
  const buckets = [...cumulative.entries()].sort((a, b) => a[0] - b[0]);
  const count = buckets.at(-1)?.[1] ?? 0;
  if (count === 0) return null;
  const quantile = (q: number): number => {
    const rank = q * count;
    let lowerBound = 0;
    let lowerCount = 0;
    for (const [bound, seen] of buckets) {
      if (seen >= rank) {
        if (bound === Infinity) return lowerBound * 1000;
        const share = seen === lowerCount ? 1 : (rank - lowerCount) / (seen - lowerCount);
        return (lowerBound + (bound - lowerBound) * share) * 1000;
      }
      lowerBound = bound;
      lowerCount = seen;
    }
    return lowerBound * 1000;
  };
  return { count, p50: quantile(0.5), p95: quantile(0.95), p99: quantile(0.99) };
}

/** GET /metrics in Prometheus' text format, on a scope the caller has already guarded. */
export function metricsRoute(scope: FastifyInstance, metrics: ReceiverMetrics): void {
  scope.get('/metrics', async (_request, reply) =>
    reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
}
