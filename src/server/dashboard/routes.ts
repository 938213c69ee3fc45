import type { FastifyError, FastifyInstance } from 'fastify';
import type { SourceSummary } from '../../compose/source-summary.js';
import { InvalidCursorError, StoreUnavailableError, type Store } from '../../store/index.js';
import type { IngestResponse, ReprocessRequest } from '../../ingest/index.js';
import type { ReceiverMetrics } from '../metrics.js';
import { deliveriesPages } from './deliveries-pages.js';
import { destinationsPage } from './destinations-page.js';
import { eventPages } from './event-pages.js';
import { html } from './html.js';
import { liveRoutes, type LiveOptions } from './live.js';
import { overviewPage } from './overview.js';
import { layoutFor, PAGE_CSP, sendPage } from './parts.js';
import { quarantinePage } from './quarantine-page.js';
import { SCRIPT } from './script.js';
import { STYLE } from './style.js';
import { transactionPage } from './transaction-page.js';
import { transactionsPages } from './transactions-pages.js';

/** What the dashboard is built from (app.ts passes it). */
export interface DashboardOptions {
  store: Store;
  /** Runs a quarantined body through ingest again (the pipeline's reprocess). */
  reprocess: (request: ReprocessRequest) => Promise<IngestResponse>;
  /** Deliveries were re-queued: the dispatcher should look now. */
  onOutboxChange?: (() => void) | undefined;
  /** A destination was paused or resumed: this process's dispatcher should follow now. */
  onDestinationsChange?: (() => unknown) | undefined;
  /** This process's metrics (ack latency, delivery lag), when it keeps them. */
  metrics?: ReceiverMetrics | undefined;
  /** The admin token, when one is configured (signs sessions; never shown or logged). */
  adminToken?: string | undefined;
  /** Whether the listener is on loopback (open without a token there). */
  listeningOnLoopback: boolean;
  /** Document data is stored on purpose: payloads are shown unmasked. */
  storeDocumentData: boolean;
  /** Live stream timings (tests shorten them). */
  live?: LiveOptions | undefined;
  /**
   * The sources this receiver listens on now (read per page, so a reload shows at once): the
   * filters offer them and rows show their source when there are several. Absent: the filters
   * take a typed name and rows show a source other than the default one.
   */
  listSources?: (() => SourceSummary[]) | undefined;
}

/**
 * The dashboard's pages for people: overview, transactions, events, deliveries, destinations,
 * quarantine, and the live stream. The forms POST to the action routes (action-routes.ts), which
 * answer with a redirect back here carrying `?done=` or `?error=`.
 */
export async function dashboardRoutes(app: FastifyInstance, options: DashboardOptions): Promise<void> {
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('content-security-policy', PAGE_CSP);
    return payload;
  });
  // A page answers with a page, not the API's problem+json: a person is reading.
  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    const layout = layoutFor(request, undefined, { adminToken: options.adminToken });
    if (error instanceof InvalidCursorError)
      return sendPage(
        reply,
        'Bad page link',
        html`<p>That page link is not valid (${error.message}). <a href="${request.url.split('?')[0]!}">Start from the first page</a>.</p>`,
        400,
        layout,
      );
    if (error instanceof StoreUnavailableError)
      return sendPage(
        reply.header('retry-after', '5'),
        'Store unavailable',
        html`<p>The store cannot be reached right now; reload in a few seconds.</p>`,
        503,
        layout,
      );
    const status =
      error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status !== 500) return sendPage(reply, 'Bad request', html`<p>${error.message}</p>`, status, layout);
    request.log.error({ err: error }, 'dashboard page failed');
    return sendPage(
      reply,
      'Something went wrong',
      html`<p>The page could not be built; the log says why.</p>`,
      500,
      layout,
    );
  });

  // Browsers ask for it on every page; an empty answer beats a 404 in their console.
  app.get('/favicon.ico', async (_request, reply) => reply.code(204).send());
  app.get('/dashboard/style.css', async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'no-cache').send(STYLE),
  );
  app.get('/dashboard/app.js', async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(SCRIPT),
  );

  overviewPage(app, options);
  transactionsPages(app, options);
  transactionPage(app, options);
  eventPages(app, options);
  deliveriesPages(app, options);
  destinationsPage(app, options);
  quarantinePage(app, options);
  liveRoutes(app, options.store, { ...options.live, listSources: options.listSources });
}
