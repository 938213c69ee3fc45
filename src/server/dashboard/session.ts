import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';

/** The dashboard's session cookie: HttpOnly, SameSite=Strict, scoped to /dashboard. */
export const SESSION_COOKIE = 'docv_session';
/** A sign-in lasts a working day; then the token is asked for again. */
export const SESSION_TTL_SECONDS = 12 * 60 * 60;

/** A signed-in (or, on an open loopback dashboard, anonymous) browser. */
export interface DashboardSession {
  /** Random; names the session in the CSRF token. */
  readonly id: string;
  /** Epoch seconds. */
  readonly expiresAt: number;
  /** What every form that POSTs must carry as `_csrf`. */
  readonly csrfToken: string;
}

/**
 * Signs anonymous sessions when there is no admin token (the dashboard is open on loopback):
 * random per process, so a restart ends them, which costs a reload.
 */
const PROCESS_KEY = randomBytes(32);
const tokenKeys = new Map<string, Buffer>();

/**
 * The key that signs session cookies and CSRF tokens. Derived from the admin token, so every
 * instance on the store accepts a session another issued, and changing the token ends them all;
 * a one-way derivation, so a leaked cookie says nothing about the token.
 */
export function sessionKey(adminToken: string | undefined): Buffer {
  if (adminToken === undefined) return PROCESS_KEY;
  let key = tokenKeys.get(adminToken);
  if (key === undefined) {
    key = createHmac('sha256', 'docv-webhooks dashboard session key v1').update(adminToken).digest();
    // One token per process in practice; the bound only stops a test suite's tokens piling up.
    if (tokenKeys.size > 16) tokenKeys.clear();
    tokenKeys.set(adminToken, key);
  }
  return key;
}

function mac(key: Buffer, data: string): string {
  return createHmac('sha256', key).update(data).digest('base64url');
}

function sessionFor(key: Buffer, id: string, expiresAt: number): DashboardSession {
  return { id, expiresAt, csrfToken: mac(key, `csrf:${id}`) };
}

/** A new session and the cookie value that carries it: `<id>.<expiry>.<signature>`. */
export function issueSession(key: Buffer, nowMs = Date.now()): { session: DashboardSession; cookieValue: string } {
  const id = randomBytes(16).toString('base64url');
  const expiresAt = Math.floor(nowMs / 1000) + SESSION_TTL_SECONDS;
  return {
    session: sessionFor(key, id, expiresAt),
    cookieValue: `${id}.${expiresAt}.${mac(key, `session:${id}.${expiresAt}`)}`,
  };
}

const COOKIE_VALUE = /^([A-Za-z0-9_-]{22})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/;

/** The session a cookie value carries, or null when it is malformed, forged, signed with another key or expired. */
export function verifySessionValue(key: Buffer, value: string, nowMs = Date.now()): DashboardSession | null {
  const match = COOKIE_VALUE.exec(value);
  if (!match) return null;
  const [, id, expiry, signature] = match as unknown as [string, string, string, string];
  // The text, not the decoded bytes: base64url's last character carries two bits a decoder
  // ignores, so decoded bytes would take four spellings of one signature.
  const expected = Buffer.from(mac(key, `session:${id}.${expiry}`));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  const expiresAt = Number(expiry);
  if (expiresAt * 1000 <= nowMs) return null;
  return sessionFor(key, id, expiresAt);
}

/** The valid session among the request's `docv_session` cookies (a browser may send more than one), or null. */
export function readSession(
  key: Buffer,
  cookieHeader: string | string[] | undefined,
  nowMs = Date.now(),
): DashboardSession | null {
  if (cookieHeader === undefined) return null;
  const header = Array.isArray(cookieHeader) ? cookieHeader.join('; ') : cookieHeader;
  for (const pair of header.split(';')) {
    const at = pair.indexOf('=');
    if (at < 0 || pair.slice(0, at).trim() !== SESSION_COOKIE) continue;
    const session = verifySessionValue(key, pair.slice(at + 1).trim(), nowMs);
    if (session) return session;
  }
  return null;
}

/**
 * Whether the browser reached us over TLS: the socket itself, or, with `--trust-proxy`, the one
 * proxy's X-Forwarded-Proto (its right-most entry, the one it set). The cookie is then `Secure`.
 */
export function requestIsSecure(request: FastifyRequest, behindProxy: boolean): boolean {
  if ((request.raw.socket as Partial<TLSSocket>).encrypted === true) return true;
  if (!behindProxy) return false;
  const header = request.headers['x-forwarded-proto'];
  const last = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').pop()?.trim().toLowerCase();
  return last === 'https';
}

/** The Set-Cookie value for a session; an empty value with Max-Age=0 clears it. */
export function sessionCookie(value: string, options: { secure: boolean; maxAgeSeconds?: number }): string {
  const maxAge = options.maxAgeSeconds ?? SESSION_TTL_SECONDS;
  return [
    `${SESSION_COOKIE}=${value}`,
    `Max-Age=${maxAge}`,
    'Path=/dashboard',
    'HttpOnly',
    'SameSite=Strict',
    ...(options.secure ? ['Secure'] : []),
  ].join('; ');
}

export function clearedSessionCookie(options: { secure: boolean }): string {
  return sessionCookie('', { ...options, maxAgeSeconds: 0 });
}

// The guard runs before the route and finds the session; the pages' forms and the CSRF check read
// it. A WeakMap keeps that off fastify's request decorations, which are per encapsulation context.
const sessions = new WeakMap<FastifyRequest, DashboardSession>();

export function attachSession(request: FastifyRequest, session: DashboardSession): void {
  sessions.set(request, session);
}

export function sessionOf(request: FastifyRequest): DashboardSession | null {
  return sessions.get(request) ?? null;
}

/**
 * The CSRF token of the request's dashboard session, to put in every form that POSTs (as the
 * `_csrf` field). Empty when the request has no session (a script with a bearer token): its
 * forms would be refused, and scripts use the admin API.
 */
export function csrfTokenOf(request: FastifyRequest): string {
  return sessions.get(request)?.csrfToken ?? '';
}

/** Whether a submitted `_csrf` is the session's, compared in constant time. */
export function csrfTokenMatches(session: DashboardSession | null, submitted: unknown): boolean {
  if (session === null || typeof submitted !== 'string' || submitted === '') return false;
  const expected = Buffer.from(session.csrfToken);
  const given = Buffer.from(submitted);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
