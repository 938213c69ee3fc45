import { DEFAULT_FAILURE_LIMITS, type InboundAuthConfig } from '../auth/index.js';
import { DEFAULT_SOURCE, DEFAULT_WEBHOOK_PATH, type Dialect } from '../contract/index.js';
import {
  DEFAULT_DECISION_PENDING_MAX_MS,
  DEFAULT_RETRY_POLICY,
  DEFAULT_SOCURE_API_KIND,
  type RetryPolicy,
  type SocureApi,
} from '../dispatch/index.js';
import { DEFAULT_MAX_BODY_BYTES } from '../ingest/index.js';
import type { EncryptionKeys } from '../store/encryption/keys.js';
import { DEFAULT_DATABASE_URL } from '../store/open.js';
import type { RetentionPolicy } from '../store/retention-policy.js';

/** Inbound credentials; every configured mechanism must pass. */
export type WebhookAuthConfig = Omit<InboundAuthConfig, 'now'>;

/**
 * One inbound endpoint (issue 20): a Socure account's DocV or RiskOS webhook. Each has its own
 * path, credentials (several secrets of a kind at once for rotation), dialect and allow-list; its
 * name is stored with everything it brings in and scopes transaction ids and delivery ids.
 */
export interface SourceConfig {
  /** contract/source.ts sourceNameProblem; unique. */
  name: string;
  /** Where its sender POSTs; unique, not under /v1, /dashboard, /metrics or the health paths. */
  path: string;
  /** Credentials and allow-list; every configured mechanism must pass. trustProxy is the receiver's, not a source's. */
  auth: Omit<WebhookAuthConfig, 'trustProxy'>;
  /** Accept only this dialect; by default each delivery's shape picks one. */
  dialect?: Dialect | undefined;
  /** A label for people (`Sandbox`, `Production`): shown with the source in `sources list`, the dashboard and the admin API. */
  environment?: string | undefined;
  /** This source's retention; the receiver-wide `retention` applies to sources without one. */
  retention?: RetentionPolicy | undefined;
  /** The decision fetch for this source's transactions, when its Socure account differs from the receiver-wide one. */
  socure?: { baseUrl?: string | undefined; apiKey?: string | undefined } | undefined;
}

/** A forward declared in the config file: a URL and what it subscribes to. */
export interface ConfiguredDestination {
  url: string;
  /** Only these sources' events (default all). */
  sources?: string[] | undefined;
  /** Only these event types (default all). */
  eventTypes?: string[] | undefined;
}

export interface ServerTimeouts {
  /** Whole request, headers and body (slow-loris guard). */
  requestMs: number;
  headersMs: number;
  keepAliveMs: number;
  /** Idle socket. */
  connectionMs: number;
  /**
   * Open connections at most. The last quarter is kept for addresses that recently delivered
   * successfully (see connection-admission.ts), so a flood of idle sockets cannot lock them out.
   */
  maxConnections: number;
  /**
   * Open connections one client (socket peer; IPv6 per /64) may hold until it has delivered
   * successfully; beyond it they are closed at once (`--max-connections-per-client`). 0 turns the
   * cap off. Behind a proxy every connection comes from the proxy: raise it or turn it off there.
   */
  maxConnectionsPerClient: number;
}

export interface DispatchConfig {
  /** Run the outbox workers in this process (`serve --no-dispatch` turns it off). */
  enabled: boolean;
  concurrency: number;
  retry: RetryPolicy;
  /** Hold a transaction's later events until the earlier one is delivered or dead. */
  ordered: boolean;
  /** How long a claimed delivery belongs to a worker; 0 derives it from the attempt timeouts. */
  leaseMs: number;
  pollMs: number;
  /** POST every event to these URLs (the integrator's services). */
  forwardUrls: string[];
  /** Standard Webhooks secrets to sign forwarded events with. */
  forwardSigningSecrets: string[];
  forwardTimeoutMs: number;
  /**
   * Run forward POSTs on a worker thread of their own (default), leaving this thread's event
   * loop to acknowledgements; off runs them on the main thread.
   */
  forwardThread: boolean;
  /** How long a forward of VERIFICATION_COMPLETED waits for the fetched decision. */
  decisionWaitMs: number;
  /**
   * How often a dispatching process reads the store's destinations again, so one added or
   * disabled by another process (or the CLI) is followed without a restart. Ingest needs no such
   * interval: it reads them in every commit.
   */
  destinationsRefreshMs: number;
}

/**
 * The decision fetch: the document-verification result of record, asked for when documents are
 * uploaded and for a completion that came without its decision.
 */
export interface SocureApiConfig {
  baseUrl?: string | undefined;
  apiKey?: string | undefined;
  /** `idplus` (ID+, `POST /api/3.0/EmailAuthScore`, default) or `profile` (`GET /api/3.0/documents/{id}`). */
  api: SocureApi;
  timeoutMs: number;
  /** Keep document data (PII) from the response; off by default. */
  storeDocumentData: boolean;
  /** How long a fetch keeps asking while the answer has no decision yet; then the transaction is marked decision-unavailable. */
  decisionPendingMaxMs: number;
}

export interface ReceiverConfig {
  port: number;
  host: string;
  databaseUrl: string;
  webhookPath: string;
  maxBodyBytes: number;
  /**
   * Accept only this dialect (`--dialect`): by default each delivery's shape picks one of the flat
   * contract, Socure's v5 envelope and RiskOS (see src/contract/dialects).
   */
  dialect?: Dialect | undefined;
  adminToken?: string | undefined;
  auth: WebhookAuthConfig;
  /**
   * Failed authentications one address may make within a minute; the next one blocks it (429)
   * for five minutes (`--auth-failure-limit`). 0 turns the limiter off.
   */
  authFailureLimit: number;
  /** Allow listening beyond loopback without webhook credentials or admin token. */
  insecureNoAuth: boolean;
  logLevel: string;
  /** Pretty logs for people; JSON lines otherwise. */
  prettyLogs: boolean;
  quarantineCapacity: number;
  /**
   * SQLite: commit on a writer thread, off the event loop that answers deliveries. Off by
   * default: it halves the main thread's CPU per acknowledgement but adds the messages (about
   * +7% CPU in all) and an isolate (+50 MB RSS), and on a 2-core machine shared with the load
   * it lowered closed-loop throughput (0.31-0.33x against 0.36-0.37x without, same run; see
   * BENCHMARKS.md). Worth turning on where cores are to spare and the event loop is the limit.
   */
  sqliteWriterThread: boolean;
  /**
   * SQLite: checkpoint (copy the WAL into the database file and fsync it) from a thread of its
   * own rather than inside the commit that crosses wal_autocheckpoint, which blocked the event
   * loop for tens of milliseconds every few thousand events. On by default; see
   * store/sqlite/checkpointer.ts and BENCHMARKS.md.
   */
  sqliteCheckpointThread: boolean;
  timeouts: ServerTimeouts;
  dispatch: DispatchConfig;
  socure: SocureApiConfig;
  /**
   * Encryption at rest (`--encryption-key`, store/encryption/): personal data columns sealed with
   * AES-256-GCM. Unset: rows are written in clear, as before.
   */
  encryption?: EncryptionKeys | undefined;
  /**
   * How long personal data is kept (`--retention raw=30d,events=400d,quarantine=14d`): the
   * background job of serve, worker and the library's receiver (compose/retention-job.ts)
   * removes what is past it. Unset: kept.
   */
  retention?: RetentionPolicy | undefined;
  /** How often the retention job runs (default 5 minutes; tests shorten it). */
  retentionIntervalMs?: number | undefined;
  /**
   * The inbound endpoints (`--config`, issue 20). Absent or empty: one source, DEFAULT_SOURCE,
   * made of `webhookPath`, `auth`, `dialect` and `retention` as before (sourcesOf).
   */
  sources?: SourceConfig[] | undefined;
  /** Forwards declared in the config file, with their subscriptions (beside `dispatch.forwardUrls`). */
  destinations?: ConfiguredDestination[] | undefined;
  /** The config file this came from, for SIGHUP and the start-up banner. */
  configFile?: string | undefined;
}

/**
 * The sources a configuration listens on: those it names, or the one the single-source settings
 * make (named DEFAULT_SOURCE, so rows stored before sources existed stay its own).
 */
export function sourcesOf(config: ReceiverConfig): SourceConfig[] {
  if (config.sources && config.sources.length > 0) return config.sources;
  const { trustProxy: _trustProxy, ...auth } = config.auth;
  return [
    {
      name: DEFAULT_SOURCE,
      path: config.webhookPath,
      auth,
      dialect: config.dialect,
      retention: config.retention,
    },
  ];
}

export const DEFAULT_DISPATCH: DispatchConfig = {
  enabled: true,
  concurrency: 16,
  retry: DEFAULT_RETRY_POLICY,
  ordered: true,
  leaseMs: 0,
  pollMs: 500,
  forwardUrls: [],
  forwardSigningSecrets: [],
  forwardTimeoutMs: 15_000,
  forwardThread: true,
  decisionWaitMs: 30_000,
  destinationsRefreshMs: 2_000,
};

export const DEFAULT_SOCURE_API: SocureApiConfig = {
  api: DEFAULT_SOCURE_API_KIND,
  timeoutMs: 15_000,
  storeDocumentData: false,
  decisionPendingMaxMs: DEFAULT_DECISION_PENDING_MAX_MS,
};

export const DEFAULT_TIMEOUTS: ServerTimeouts = {
  requestMs: 30_000,
  headersMs: 10_000,
  keepAliveMs: 5_000,
  connectionMs: 60_000,
  maxConnections: 1_024,
  maxConnectionsPerClient: 64,
};

/**
 * Any part of the configuration; the rest comes from the defaults, section by section (a
 * `dispatch` that names only `concurrency` keeps every other dispatch default).
 */
export interface ReceiverConfigInput extends Partial<
  Omit<ReceiverConfig, 'auth' | 'timeouts' | 'dispatch' | 'socure'>
> {
  auth?: WebhookAuthConfig | undefined;
  timeouts?: Partial<ServerTimeouts> | undefined;
  dispatch?: Partial<DispatchConfig> | undefined;
  socure?: Partial<SocureApiConfig> | undefined;
}

/** Fills in the defaults: each section is merged with its own, so a partial one is never taken for a whole. */
export function defaultReceiverConfig(overrides: ReceiverConfigInput = {}): ReceiverConfig {
  const { auth, timeouts, dispatch, socure, ...top } = overrides;
  return {
    port: 3000,
    host: '127.0.0.1',
    databaseUrl: DEFAULT_DATABASE_URL,
    webhookPath: DEFAULT_WEBHOOK_PATH,
    maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
    authFailureLimit: DEFAULT_FAILURE_LIMITS.maxFailures,
    insecureNoAuth: false,
    logLevel: 'info',
    prettyLogs: false,
    quarantineCapacity: 10_000,
    sqliteWriterThread: false,
    sqliteCheckpointThread: true,
    ...definedOnly(top),
    auth: { ...auth },
    timeouts: { ...DEFAULT_TIMEOUTS, ...definedOnly(timeouts ?? {}) },
    dispatch: { ...DEFAULT_DISPATCH, ...definedOnly(dispatch ?? {}) },
    socure: { ...DEFAULT_SOCURE_API, ...definedOnly(socure ?? {}) },
  };
}

/**
 * Drops keys whose value is undefined, so `{ port: undefined }` keeps the default port rather than
 * replacing it with nothing (the CLI passes every flag, set or not).
 */
function definedOnly<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<T>;
}
