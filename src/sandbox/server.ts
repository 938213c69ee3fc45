import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { requireApiKey } from './api/auth.js';
import { registerControl, type ChaosControl } from './api/control.js';
import { registerDeliveries } from './api/deliveries.js';
import { registerEmailAuthScore } from './api/email-auth-score.js';
import { registerGetTransaction } from './api/get-transaction.js';
import { sendProblem } from './api/problem.js';
import { registerUpload } from './api/upload.js';
import { registerVerify } from './api/verify.js';
import { registerCapturePage } from './capture/routes.js';
import { SandboxError } from './errors.js';
import type { DocvService } from './service.js';
import type { SandboxStore } from './store.js';

export interface SandboxAppDeps {
  service: DocvService;
  store: SandboxStore;
  apiKey: string;
  chaos: ChaosControl;
  /** The base URL people and browsers reach the sandbox at, known once it listens. */
  publicUrl: () => string;
  hasDefaultWebhookUrl: boolean;
  /** Why a webhook URL given in a request may not be delivered to (--allow-target), or undefined. */
  webhookUrlProblem: (url: string, field: string) => Promise<string | undefined>;
  /** Tells the delivery engine that a cancel or retry changed what is due. */
  wakeDelivery: () => void;
  logger?: Logger;
}

/** JSON request bodies of the API are small; 64 KiB leaves room for any real create request. */
const API_BODY_LIMIT = 64 * 1024;

/** HTTP wiring of the sandbox: the DocV API under /api/3.0, the capture page, the /sandbox controls. */
export function buildSandboxApp(deps: SandboxAppDeps): FastifyInstance {
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    // Request lines would carry capture-session tokens; the sandbox logs its own events instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: API_BODY_LIMIT,
    requestTimeout: 30_000,
    connectionTimeout: 60_000,
    return503OnClosing: true,
  }) as unknown as FastifyInstance;

  const sessionUrl = (token: string) => `${deps.publicUrl()}/capture/${encodeURIComponent(token)}`;

  app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
    if (err instanceof SandboxError) return sendProblem(reply, err.statusCode, err.message);
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) return sendProblem(reply, status, err.message);
    req.log.error({ err }, 'sandbox request failed');
    return sendProblem(reply, 500, 'the sandbox failed to handle this request; see its log');
  });
  app.setNotFoundHandler((req, reply) => sendProblem(reply, 404, `no ${req.method} route for this path`));

  app.get('/healthz', async () => ({ status: 'ok' }));
  registerCapturePage(app, {
    service: deps.service,
    findBySessionToken: (t) => deps.store.getTransactionBySessionToken(t),
  });

  app.register(async (api) => {
    api.addHook('onRequest', requireApiKey(deps.apiKey));
    registerEmailAuthScore(api, {
      service: deps.service,
      sessionUrl,
      hasDefaultWebhookUrl: deps.hasDefaultWebhookUrl,
      webhookUrlProblem: deps.webhookUrlProblem,
    });
    registerGetTransaction(api, deps);
    registerVerify(api, deps);
    registerUpload(api, deps);
    registerControl(api, { ...deps, sessionUrl });
    registerDeliveries(api, deps);
  });
  return app;
}
