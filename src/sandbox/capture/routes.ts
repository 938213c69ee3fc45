import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { isCanonicalDecision } from '../../contract/index.js';
import { SandboxError } from '../errors.js';
import type { DocvService } from '../service.js';
import type { TransactionRecord } from '../records.js';
import { capturePagePolicy, renderCapturePage } from './page.js';

const FORM_BODY_LIMIT = 1024;

function sendPage(reply: FastifyReply, tx: TransactionRecord, notice?: string, status = 200): FastifyReply {
  const nonce = randomBytes(16).toString('base64');
  return (
    reply
      .code(status)
      .header('content-type', 'text/html; charset=utf-8')
      .header('content-security-policy', capturePagePolicy(nonce))
      .header('x-content-type-options', 'nosniff')
      // The session token is in the URL: keep it out of caches and Referer headers.
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-store')
      .send(renderCapturePage({ tx, nonce, actionBase: `/capture/${encodeURIComponent(tx.sessionToken)}`, notice }))
  );
}

/**
 * The page behind `sessionUrl`, where a person (or a browser test) plays the end user. The
 * unguessable token in the URL is the only credential, as with the real capture link.
 */
export function registerCapturePage(
  app: FastifyInstance,
  deps: { service: DocvService; findBySessionToken: (token: string) => TransactionRecord | undefined },
): void {
  app.register(async (scope) => {
    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: FORM_BODY_LIMIT },
      (_req, body, done) => {
        done(null, Object.fromEntries(new URLSearchParams(body as string)));
      },
    );

    const lookup = (token: string, reply: FastifyReply) => {
      const tx = deps.findBySessionToken(token);
      if (!tx)
        reply
          .code(404)
          .header('content-type', 'text/plain; charset=utf-8')
          .send('This capture session does not exist.\n');
      return tx;
    };

    scope.get<{ Params: { token: string } }>('/capture/:token', async (req, reply) => {
      const tx = lookup(req.params.token, reply);
      return tx ? sendPage(reply, tx) : reply;
    });

    scope.post<{ Params: { token: string; step: string }; Body: Record<string, string> | undefined }>(
      '/capture/:token/:step',
      { bodyLimit: FORM_BODY_LIMIT },
      async (req, reply) => {
        const tx = lookup(req.params.token, reply);
        if (!tx) return reply;
        try {
          switch (req.params.step) {
            case 'open': {
              const r = deps.service.emit(tx.docvTransactionId, 'APP_OPENED');
              if (!r.emitted) throw new SandboxError(409, 'Conflict', `cannot open the app: ${r.reason}`);
              break;
            }
            case 'upload':
              deps.service.uploadAll(tx.docvTransactionId);
              break;
            case 'finish': {
              const outcome = req.body?.outcome;
              if (!isCanonicalDecision(outcome))
                throw new SandboxError(400, 'Bad Request', 'choose an outcome: accept, reject, resubmit or review');
              deps.service.complete(tx.docvTransactionId, outcome);
              break;
            }
            default:
              return reply.code(404).header('content-type', 'text/plain; charset=utf-8').send('No such step.\n');
          }
        } catch (err) {
          if (!(err instanceof SandboxError)) throw err;
          return sendPage(reply, deps.service.require(tx.docvTransactionId), err.message, err.statusCode);
        }
        // Post/redirect/get: reloading the page does not send the step again.
        return reply
          .code(303)
          .header('location', `/capture/${encodeURIComponent(tx.sessionToken)}`)
          .send();
      },
    );
  });
}
