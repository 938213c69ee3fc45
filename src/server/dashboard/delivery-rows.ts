import type { FastifyRequest } from 'fastify';
import type { OutboxDelivery } from '../../store/index.js';
import { EMPTY, html, type Html, type TableRow } from './html.js';
import {
  actionForm,
  deliveryHref,
  deliveryStateBadge,
  eventHref,
  formatNumber,
  link,
  shortId,
  time,
  transactionCell,
} from './parts.js';

/** Longest error shown in a list row; the delivery's page has all of it. */
const LIST_ERROR_LENGTH = 160;

function errorExcerpt(error: string): Html {
  if (error.length <= LIST_ERROR_LENGTH) return html`<span class="error">${error}</span>`;
  return html`<span class="error" title="${error}">${error.slice(0, LIST_ERROR_LENGTH)}…</span>`;
}

/** States a person may retry: tried and failing, or given up. */
export function retryable(d: OutboxDelivery): boolean {
  return d.state === 'failed' || d.state === 'dead';
}

export function retryButton(request: FastifyRequest, d: OutboxDelivery): Html {
  if (!retryable(d)) return EMPTY;
  return actionForm(request, `${deliveryHref(d.deliveryId)}/retry`, 'Retry', {
    buttonAttributes: html` data-retry="${d.deliveryId}" aria-label="Retry delivery ${d.deliveryId}"`,
  });
}

export function deliveryColumns(withTransaction: boolean): string[] {
  return [
    'delivery',
    'destination',
    ...(withTransaction ? ['transaction'] : []),
    'event',
    'state',
    'attempts',
    'created',
    'last change',
    'last error',
  ];
}

/**
 * A delivery in a list: the transaction page's (without the transaction column) and the deliveries
 * page's, where the transaction carries its source's label (parts.ts showsSource).
 */
export function deliveryRow(
  request: FastifyRequest,
  d: OutboxDelivery,
  withTransaction: boolean,
  manySources = false,
): TableRow {
  return {
    id: d.deliveryId,
    cells: [
      shortId(d.deliveryId, deliveryHref(d.deliveryId), { label: 'delivery id' }),
      html`<span class="mono">${d.destination}</span>`,
      ...(withTransaction ? [transactionCell(d, manySources)] : []),
      link(eventHref(d.eventId), d.eventType),
      // The retry sits with the state it changes (a column of its own made the table too wide).
      retryable(d)
        ? html`<span class="state-cell">${deliveryStateBadge(d)} ${retryButton(request, d)}</span>`
        : deliveryStateBadge(d),
      html`<span data-delivery-attempts data-delivery-id="${d.deliveryId}">${formatNumber(d.attempts)}</span>`,
      time(d.createdAt),
      d.nextAttemptAt !== null && d.state !== 'delivered'
        ? html`${time(d.deliveredAt ?? d.updatedAt)}<br><span class="muted">next try ${time(d.nextAttemptAt)}</span>`
        : time(d.deliveredAt ?? d.updatedAt),
      d.lastError === null ? html`-` : errorExcerpt(d.lastError),
    ],
  };
}
