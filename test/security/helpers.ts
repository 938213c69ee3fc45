import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { request, type Dispatcher } from 'undici';
import { signStandardWebhook } from '../../src/auth/index.js';
import type { TestDatabase } from '../helpers/backends.js';

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

/**
 * POSTs raw bytes with exactly the headers given (undici adds only Host, Content-Length and
 * Connection), so tests control every credential header and the content type.
 */
export async function post(
  url: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
  dispatcher?: Dispatcher,
): Promise<HttpResult> {
  const res = await request(url, { method: 'POST', body, headers, ...(dispatcher ? { dispatcher } : {}) });
  const text = await res.body.text();
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

export async function get(url: string, headers: Record<string, string> = {}): Promise<HttpResult> {
  const res = await request(url, { method: 'GET', headers });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: text ? JSON.parse(text) : null };
}

/** How many rows a table of the receiver's database holds, read directly (no store code), on either backend. */
export async function count(
  database: TestDatabase,
  table: 'events' | 'quarantine' | 'transactions' | 'deliveries',
): Promise<number> {
  return (await database.rows<{ n: number }>(`SELECT count(*) AS n FROM ${table}`))[0]!.n;
}

/** A pino logger that writes JSON lines into memory, so a test can read exactly what was logged. */
export function memoryLogger(level = 'info'): { logger: Logger; text(): string; lines(): any[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  const logger = pino({ level }, stream);
  return {
    logger,
    text: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l)),
  };
}

/** A fresh Standard Webhooks secret, `whsec_<base64 of 24 random bytes>`. */
export function newSigningSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

/** A fresh shared secret that cannot collide with anything else in the test. */
export function newSharedSecret(label: string): string {
  return `${label}-${randomBytes(12).toString('hex')}`;
}

/**
 * The token the shared-secret check compares: the last space- or tab-separated word of the
 * Authorization value (as src/auth/shared-secret.ts reads it).
 */
export function sharedSecretToken(authorization: string): string {
  const tokens = authorization.trim().split(/[ \t]+/);
  return tokens[tokens.length - 1] ?? '';
}

/** Authorization values that carry `secret` in each spelling the receiver accepts. */
export function rightSharedSecretCredentials(secret: string): string[] {
  return [secret, `Bearer ${secret}`, `Token ${secret}`, `bearer\t${secret}`];
}

/**
 * Near misses of `secret`: one character short or long, the wrong case, the wrong order, another
 * scheme. Whatever characters `secret` is made of, none of them carries it: a "wrong" credential
 * that happens to be right turns an authenticated delivery into a test failure (a random hex
 * secret ends in the character a near miss swaps in about once in sixteen runs).
 */
export function wrongSharedSecretCredentials(secret: string): string[] {
  const last = secret.slice(-1);
  const otherLast = last === '0' ? '1' : '0';
  const candidates = [
    `Bearer ${secret.slice(0, -1)}`,
    `Bearer ${secret}x`,
    `Bearer ${secret.toUpperCase() === secret ? secret.toLowerCase() : secret.toUpperCase()}`,
    `${secret} Bearer`,
    'Bearer',
    'Basic Zm9vOmJhcg==',
    `Bearer ${secret.slice(0, -1)}${otherLast}`,
  ];
  for (const candidate of candidates) {
    if (sharedSecretToken(candidate) === secret)
      throw new Error(`wrongSharedSecretCredentials: ${JSON.stringify(candidate)} carries the secret`);
  }
  return candidates;
}

export type SignatureSpelling = 'webhook' | 'svix';

/** The three signature headers, in one spelling, for `body` signed with `secrets`. */
export function signatureHeaders(
  secrets: string | string[],
  body: string,
  options: { id?: string; timestampSeconds?: number; spelling?: SignatureSpelling } = {},
): Record<string, string> {
  const id = options.id ?? `msg_${randomBytes(8).toString('hex')}`;
  const timestamp = options.timestampSeconds ?? Math.floor(Date.now() / 1000);
  const prefix = options.spelling ?? 'webhook';
  return {
    [`${prefix}-id`]: id,
    [`${prefix}-timestamp`]: String(timestamp),
    [`${prefix}-signature`]: signStandardWebhook(secrets, id, timestamp, body),
  };
}

let sequence = 0;
/** A valid DocV event as the exact JSON text that will be sent (and signed). */
export function eventJson(overrides: Record<string, unknown> = {}): string {
  sequence += 1;
  return JSON.stringify({
    eventType: 'APP_OPENED',
    docvTransactionId: `sec-${process.pid}-${sequence}-${randomBytes(3).toString('hex')}`,
    eventTime: '2026-03-01T10:00:00Z',
    customerUserId: 'user-1',
    ...overrides,
  });
}

export const JSON_CT = { 'content-type': 'application/json' } as const;

/**
 * An environment for the built CLI in which each credential variable (and its `_FILE`) is set
 * empty, i.e. not configured: credentials in the environment of whoever runs the tests must not
 * change what the CLI sees.
 */
export function envWithoutCredentials(names: readonly string[]): Record<string, string> {
  return Object.fromEntries(
    names.flatMap((name) => [
      [name, ''],
      [`${name}_FILE`, ''],
    ]),
  );
}

/** The webhook credential variables every start-up test blanks out. */
export const CREDENTIAL_VARIABLES = [
  'DOCV_WEBHOOK_SECRETS',
  'DOCV_WEBHOOK_BASIC_AUTH',
  'DOCV_WEBHOOK_SIGNING_SECRETS',
  'DOCV_ALLOWED_IPS',
  'DOCV_ADMIN_TOKEN',
] as const;
