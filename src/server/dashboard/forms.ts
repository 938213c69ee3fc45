import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { html } from './html.js';
import { PAGE_CSP, sendPage } from './parts.js';
import { csrfTokenMatches, sessionOf } from './session.js';

/** What the dashboard's forms POST, parsed: the first value of each field. */
export type FormFields = Readonly<Record<string, string>>;

/**
 * Sends the dashboard pages' Content-Security-Policy with every answer of this context: the admin
 * scope's stricter one (no stylesheet) would otherwise replace the one sendPage sets.
 */
export function dashboardPagePolicy(app: FastifyInstance): void {
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('content-security-policy', PAGE_CSP);
    return payload;
  });
}

/**
 * Browsers post forms as application/x-www-form-urlencoded, which fastify does not parse by
 * itself. Registered in this context only: the admin API keeps taking JSON alone.
 */
export function acceptForms(app: FastifyInstance): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    const fields: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [name, value] of new URLSearchParams(body as string)) if (!(name in fields)) fields[name] = value;
    done(null, fields);
  });
}

/** The fields of a POST (an empty set when it had no form body: then its CSRF check fails). */
export function formOf(request: FastifyRequest): FormFields {
  const body = request.body;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return {};
  return Object.fromEntries(
    Object.entries(body as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
}

/** A form field, trimmed; undefined when absent or blank. */
export function field(form: FormFields, name: string): string | undefined {
  const value = form[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

const BASE = 'http://dashboard.invalid';

/**
 * `value` as a path under /dashboard (with its query), or null: a redirect target must never
 * leave the dashboard, or a link could send a signed-in browser anywhere.
 */
export function dashboardPath(value: unknown): string | null {
  if (typeof value !== 'string' || value.length > 4000) return null;
  // eslint-disable-next-line no-control-regex
  if (!/^\/dashboard(?:[/?]|$)/.test(value) || /[\\\u0000-\u001f\u007f]/.test(value)) return null;
  let url: URL;
  try {
    url = new URL(value, BASE);
  } catch {
    return null;
  }
  // `..` segments are resolved by now: /dashboard/../v1 is not under /dashboard.
  if (url.origin !== BASE || !/^\/dashboard(?:\/|$)/.test(url.pathname)) return null;
  return `${url.pathname}${url.search}`;
}

/** `path` with `?done=` or `?error=` set to `message` (the banner every page shows), the other removed. */
export function withMessage(path: string, kind: 'done' | 'error', message: string): string {
  const url = new URL(path, BASE);
  url.searchParams.delete('done');
  url.searchParams.delete('error');
  url.searchParams.set(kind, message);
  return `${url.pathname}${url.search}`;
}

/** 303: the browser follows with a GET, so a reload does not post the form again. */
export function seeOther(reply: FastifyReply, location: string): FastifyReply {
  return reply.code(303).header('location', location).send();
}

function headerValue(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function originAuthority(origin: string): string | null {
  try {
    const url = new URL(origin);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.host : null;
  } catch {
    return null;
  }
}

function authority(host: string | undefined): string | null {
  if (host === undefined) return null;
  try {
    return new URL(`http://${host}`).host;
  } catch {
    return null;
  }
}

/**
 * Why a browser POST must be refused because another site sent it, or null. The browser says so
 * itself: Sec-Fetch-Site (other than same-origin, or none for a typed address), or an Origin
 * that is not this host (behind the trusted proxy, the host it was asked for).
 */
export function foreignPostRefusal(request: FastifyRequest, behindProxy: boolean): string | null {
  const site = headerValue(request, 'sec-fetch-site');
  if (site !== undefined && site !== 'same-origin' && site !== 'none')
    return `the browser says this form was sent from another site (Sec-Fetch-Site: ${site.slice(0, 40)})`;
  const origin = headerValue(request, 'origin');
  if (origin === undefined) return null;
  const from = originAuthority(origin);
  const hosts = [headerValue(request, 'host'), ...(behindProxy ? [headerValue(request, 'x-forwarded-host')] : [])]
    .map((h) => authority(h?.split(',').pop()?.trim()))
    .filter((h): h is string => h !== null);
  if (from === null || !hosts.includes(from))
    return `this form was sent by a page from ${JSON.stringify(origin.slice(0, 100))}, not from this dashboard`;
  return null;
}

/** 403 with a page that says why and what to do; nothing was changed. */
export function refuse(reply: FastifyReply, why: string): FastifyReply {
  return sendPage(
    reply,
    'Not allowed',
    html`<p id="refusal">This action was refused: ${why}. Nothing was changed.</p>
<p>Go back, reload the page and try again. <a href="/dashboard">Back to the dashboard</a></p>`,
    403,
  );
}

/**
 * The checks every dashboard POST passes before it does anything: sent from this dashboard's
 * own page, with the CSRF token of the browser's session. Answers 403 itself and returns false
 * when one fails.
 */
export function postAllowed(request: FastifyRequest, reply: FastifyReply, behindProxy: boolean): boolean {
  const foreign = foreignPostRefusal(request, behindProxy);
  if (foreign !== null) {
    refuse(reply, foreign);
    return false;
  }
  const session = sessionOf(request);
  if (!csrfTokenMatches(session, formOf(request)._csrf)) {
    refuse(
      reply,
      session === null
        ? 'there is no dashboard session (sign in; scripts use the admin API under /v1)'
        : 'the form’s security token is missing or out of date',
    );
    return false;
  }
  return true;
}
