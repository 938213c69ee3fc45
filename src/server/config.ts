import { DEFAULT_WEBHOOK_PATH } from '../contract/index.js';
import { DEFAULT_MAX_BODY_BYTES } from '../ingest/index.js';
import { DEFAULT_DATABASE_URL } from '../store/index.js';

/** Inbound credentials; any configured mechanism must pass. Mirrors src/auth's config. */
export interface WebhookAuthConfig {
  webhookSecrets?: string[];
  basicAuth?: string[];
  signingSecrets?: string[];
  signatureToleranceSeconds?: number;
  allowIps?: string[];
  trustProxy?: boolean;
}

export interface ServerTimeouts {
  /** Whole request, headers and body (slow-loris guard). */
  requestMs: number;
  headersMs: number;
  keepAliveMs: number;
  /** Idle socket. */
  connectionMs: number;
  maxConnections: number;
}

export interface ReceiverConfig {
  port: number;
  host: string;
  databaseUrl: string;
  webhookPath: string;
  maxBodyBytes: number;
  adminToken?: string | undefined;
  auth: WebhookAuthConfig;
  /** Allow listening beyond loopback without webhook credentials or admin token. */
  insecureNoAuth: boolean;
  logLevel: string;
  /** Pretty logs for people; JSON lines otherwise. */
  prettyLogs: boolean;
  quarantineCapacity: number;
  timeouts: ServerTimeouts;
}

export const DEFAULT_TIMEOUTS: ServerTimeouts = {
  requestMs: 30_000,
  headersMs: 10_000,
  keepAliveMs: 5_000,
  connectionMs: 60_000,
  maxConnections: 1_024,
};

export function defaultReceiverConfig(overrides: Partial<ReceiverConfig> = {}): ReceiverConfig {
  return {
    port: 3000,
    host: '127.0.0.1',
    databaseUrl: DEFAULT_DATABASE_URL,
    webhookPath: DEFAULT_WEBHOOK_PATH,
    maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
    auth: {},
    insecureNoAuth: false,
    logLevel: 'info',
    prettyLogs: false,
    quarantineCapacity: 10_000,
    ...overrides,
    timeouts: { ...DEFAULT_TIMEOUTS, ...overrides.timeouts },
  };
}
