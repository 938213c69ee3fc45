import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createFailureLimiter, resolveClientAddress } from '../../auth/index.js';
import { tokenDigest } from '../admin-auth.js';
import {
  acceptForms,
  dashboardPagePolicy,
  dashboardPath,
  field,
  foreignPostRefusal,
  formOf,
  postAllowed,
  refuse,
  seeOther,
} from './forms.js';
import { html, type Html } from './html.js';
import { sendPage } from './parts.js';
import type { DashboardOptions } from './routes.js';
import {
  clearedSessionCookie,
  issueSession,
  requestIsSecure,
  sessionCookie,
  sessionKey,
  sessionOf,
} from './session.js';

/** What the sign-in routes need beyond the dashboard's options. */
export interface DashboardAuthOptions extends DashboardOptions {
  /** `--trust-proxy`: the client address and the scheme come from the one proxy's headers. */
  behindProxy: boolean;
}

/** Where to go once signed in: a dashboard page, never the sign-in routes themselves. */
function returnTarget(value: unknown): string {
  const path = dashboardPath(value);
  if (path === null || /^\/dashboard\/log(?:in|out)(?:[/?]|$)/.test(path)) return '/dashboard';
  return path;
}

function loginForm(returnTo: string, problem?: Html): Html {
  return html`${problem ?? html``}<form method="post" action="/dashboard/login" id="login-form" class="login">
<input type="hidden" name="returnTo" value="${returnTo}">
<p><label for="admin-token">Admin token</label><br>
<input id="admin-token" name="token" type="password" autocomplete="current-password" required></p>
<p><button type="submit">Sign in</button></p>
</form>
<p>The token is the receiver's <code>DOCV_ADMIN_TOKEN</code> (or <code>--admin-token</code>).</p>`;
}

/**
 * Signing in to the dashboard with the admin token, and out again. A signed session cookie, not
 * the token, is what the browser keeps (session.ts); wrong tokens are counted per client address
 * and a guesser is refused for a while, as the webhook route does with wrong secrets.
 */
export async function dashboardLoginRoutes(app: FastifyInstance, options: DashboardAuthOptions): Promise<void> {
  const { adminToken, behindProxy } = options;
  const key = sessionKey(adminToken);
  const expected = adminToken === undefined ? null : tokenDigest(adminToken);
  const limiter = createFailureLimiter({
    onBlock: (block) =>
      app.log.warn(
        { address: block.address, failures: block.failures, until: new Date(block.until).toISOString() },
        'dashboard sign-in: too many wrong tokens from one address; refusing it for a while',
      ),
  });
  acceptForms(app);
  dashboardPagePolicy(app);

  const clientOf = (request: FastifyRequest) =>
    resolveClientAddress(request.headers, request.socket.remoteAddress, behindProxy);

  function tooMany(reply: FastifyReply, retryAfterSeconds: number): FastifyReply {
    reply.header('retry-after', String(retryAfterSeconds));
    return sendPage(
      reply,
      'Sign in',
      html`<p class="error" role="alert" id="login-error">Too many wrong tokens from your address: try again in ${Math.ceil(retryAfterSeconds / 60)} minute(s).</p>`,
      429,
    );
  }

  app.get<{ Querystring: Record<string, unknown> }>('/dashboard/login', async (request, reply) => {
    const returnTo = returnTarget(request.query.returnTo);
    // Open on loopback there is nothing to sign in to; signed in already, nothing to do.
    if (expected === null || sessionOf(request) !== null) return seeOther(reply, returnTo);
    return sendPage(reply, 'Sign in', loginForm(returnTo));
  });

  app.post('/dashboard/login', async (request, reply) => {
    const form = formOf(request);
    const returnTo = returnTarget(form.returnTo);
    if (expected === null) return seeOther(reply, returnTo);
    // No session to bind a CSRF token to yet; a sign-in form posted by another site is refused all the same.
    const foreign = foreignPostRefusal(request, behindProxy);
    if (foreign !== null) return refuse(reply, foreign);
    const client = clientOf(request);
    const state = limiter.check(client);
    if (state.limited) return tooMany(reply, state.retryAfterSeconds);
    const candidate = field(form, 'token');
    if (candidate === undefined || !timingSafeEqual(tokenDigest(candidate), expected)) {
      const after = limiter.recordFailure(client, 'wrong dashboard token');
      request.log.warn({ peer: request.socket.remoteAddress }, 'dashboard sign-in with a wrong token');
      if (after.limited) return tooMany(reply, after.retryAfterSeconds);
      return sendPage(
        reply,
        'Sign in',
        loginForm(returnTo, html`<p class="error" role="alert" id="login-error">That token is not right.</p>`),
        401,
      );
    }
    limiter.recordSuccess(client);
    const { cookieValue } = issueSession(key);
    request.log.info({ peer: request.socket.remoteAddress }, 'dashboard sign-in');
    reply.header('set-cookie', sessionCookie(cookieValue, { secure: requestIsSecure(request, behindProxy) }));
    return seeOther(reply, returnTo);
  });

  // A stateless session cannot be revoked: signing out makes the browser forget the cookie;
  // changing the admin token ends every session everywhere.
  app.post('/dashboard/logout', async (request, reply) => {
    if (!postAllowed(request, reply, behindProxy)) return reply;
    reply.header('set-cookie', clearedSessionCookie({ secure: requestIsSecure(request, behindProxy) }));
    return seeOther(reply, expected === null ? '/dashboard' : '/dashboard/login');
  });
}
