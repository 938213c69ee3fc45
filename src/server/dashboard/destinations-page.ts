import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  DELIVERY_STATES,
  type DeliveryState,
  type DestinationHealth,
  type StoredDestination,
} from '../../store/index.js';
import { shownDestination, subscriptionWords } from '../destination-view.js';
import { EMPTY, html, type Html } from './html.js';
import { actionForm, badge, formatNumber, layoutFor, queryString, sendPage, time } from './parts.js';
import type { DashboardOptions } from './routes.js';

/** The health window: long enough to mean something, short enough to show a recovery. */
const HEALTH_WINDOW_MS = 60 * 60 * 1000;

function destinationPath(name: string): string {
  return `/dashboard/destinations/${encodeURIComponent(name)}`;
}

function health(h: DestinationHealth | undefined): Html {
  if (h === undefined || h.attempts === 0)
    return html`<p class="muted" data-health="idle">No attempt in the last hour.</p>`;
  const rate = ((h.attempts - h.failures) / h.attempts) * 100;
  const lastError =
    h.lastError === null
      ? EMPTY
      : html`<p>Last error ${time(h.lastErrorAt)}: <span class="error">${h.lastError}</span></p>`;
  return html`<p data-health="${h.failures === 0 ? 'ok' : 'failing'}"><strong data-success-rate>${rate.toFixed(rate === 100 || rate === 0 ? 0 : 1)}%</strong> of ${formatNumber(h.attempts)} attempt${h.attempts === 1 ? '' : 's'} succeeded in the last hour (${formatNumber(h.failures)} failed). Last delivered ${time(h.lastDeliveredAt)}.</p>${lastError}`;
}

function counts(name: string, byState: Record<DeliveryState, number> | undefined): Html {
  return html`<p class="actions">${DELIVERY_STATES.map(
    (s) =>
      html`<a href="/dashboard/deliveries${queryString({ destination: name, state: s })}" data-count="deliveries:${name}:${s}">${formatNumber(byState?.[s] ?? 0)} ${s}</a>`,
  )}</p>`;
}

function switchButton(request: FastifyRequest, d: StoredDestination): Html {
  const pause = d.state === 'active';
  return actionForm(
    request,
    `${destinationPath(d.name)}/${pause ? 'pause' : 'resume'}`,
    pause ? 'Pause deliveries' : 'Resume deliveries',
    {
      className: pause ? 'danger' : 'primary',
      buttonAttributes: html` data-destination-switch="${pause ? 'pause' : 'resume'}" aria-label="${pause ? 'Pause' : 'Resume'} deliveries to ${d.name}"`,
    },
  );
}

function card(
  request: FastifyRequest,
  d: StoredDestination | null,
  name: string,
  h: DestinationHealth | undefined,
  byState: Record<DeliveryState, number> | undefined,
): Html {
  const facts =
    d === null
      ? html`<p class="muted">Not kept in the store: a destination of this process alone (a library's handler), or one removed since.</p>`
      : html`<dl class="facts"><dt>kind</dt><dd>${d.kind}</dd><dt>url</dt><dd class="mono">${shownDestination(d).url || '-'}</dd><dt>state</dt><dd>${badge(d.state)}</dd><dt>takes</dt><dd data-field="subscription">${subscriptionWords(d.subscription)}</dd>${d.signed ? html`<dt>signed</dt><dd>yes</dd>` : EMPTY}${d.urlCredentials ? html`<dt>credentials</dt><dd>from the flags of the delivering process</dd>` : EMPTY}</dl>`;
  return html`<li class="card" data-destination="${name}"><h2 class="mono">${name}</h2>${facts}<h3>Health</h3>${health(h)}<h3>Deliveries</h3>${counts(name, byState)}${d === null ? EMPTY : html`<div class="actions">${switchButton(request, d)}</div>`}</li>`;
}

/** `/dashboard/destinations`: each destination's health, its deliveries by state, pause and resume. */
export function destinationsPage(app: FastifyInstance, options: DashboardOptions): void {
  const { store } = options;
  app.get('/dashboard/destinations', async (request, reply) => {
    const [destinations, healthList, byDestination] = await Promise.all([
      store.listDestinations(),
      store.destinationHealth(new Date(Date.now() - HEALTH_WINDOW_MS)),
      store.deliveryCountsByDestination(),
    ]);
    const stored = new Map(destinations.map((d) => [d.name, d]));
    const healthOf = new Map(healthList.map((h) => [h.destination, h]));
    const names = [...new Set([...stored.keys(), ...Object.keys(byDestination)])].sort();
    const cards = names.map((name) =>
      card(request, stored.get(name) ?? null, name, healthOf.get(name), byDestination[name]),
    );
    const body =
      names.length === 0
        ? html`<p class="empty">No destination: events are stored and nothing is forwarded.</p>`
        : html`<p class="muted">A paused destination gets no deliveries for new events, and no worker takes the ones it has until it is resumed.</p><ul class="cards" id="destinations">${cards}</ul>`;
    return sendPage(
      reply,
      'Destinations',
      body,
      200,
      layoutFor(request, 'destinations', { adminToken: options.adminToken }),
    );
  });
}
