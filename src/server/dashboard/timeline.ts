import { eventTimeMs } from '../../contract/index.js';
import type { StoredEventSummary } from '../../store/index.js';
import { EMPTY, html, type Html } from './html.js';
import { badge, eventHref, formatNumber, time, transactionHref } from './parts.js';

/**
 * Events received after an event with a later event time: Socure retries and parallel senders
 * deliver out of order, and a reader of the timeline (in event-time order) should see which ones
 * came late. Walks the events in receipt order keeping the latest event time seen so far.
 */
export function outOfOrderEvents(events: readonly StoredEventSummary[]): Set<string> {
  const byReceipt = [...events].sort(
    (a, b) => Date.parse(a.receivedAt) - Date.parse(b.receivedAt) || a.eventId.localeCompare(b.eventId),
  );
  const late = new Set<string>();
  let latest = -Infinity;
  for (const e of byReceipt) {
    const t = eventTimeMs(e.eventTime);
    if (t < latest) late.add(e.eventId);
    latest = Math.max(latest, t);
  }
  return late;
}

/** The timeline's order: event time, then receipt. */
export function inEventTimeOrder(events: readonly StoredEventSummary[]): StoredEventSummary[] {
  return [...events].sort(
    (a, b) =>
      eventTimeMs(a.eventTime) - eventTimeMs(b.eventTime) ||
      Date.parse(a.receivedAt) - Date.parse(b.receivedAt) ||
      a.eventId.localeCompare(b.eventId),
  );
}

function delay(e: StoredEventSummary): string {
  if (e.eventTimeSource === 'receipt') return '';
  const ms = Date.parse(e.receivedAt) - eventTimeMs(e.eventTime);
  if (!Number.isFinite(ms)) return '';
  if (Math.abs(ms) < 1000) return ` (${Math.round(ms)} ms after the event)`;
  const s = ms / 1000;
  if (Math.abs(s) < 120) return ` (${s.toFixed(1)} s ${s >= 0 ? 'after' : 'before'} the event)`;
  const min = s / 60;
  const [amount, unit] =
    Math.abs(min) < 120 ? [min, 'min'] : Math.abs(min) < 48 * 60 ? [min / 60, 'h'] : [min / 1440, 'days'];
  return ` (${formatNumber(Math.round(Math.abs(amount)))} ${unit} ${min >= 0 ? 'after' : 'before'} the event)`;
}

function marks(e: StoredEventSummary, outOfOrder: boolean): Html {
  const out: Html[] = [];
  if (outOfOrder)
    out.push(
      html`<span class="mark" data-mark="out-of-order" title="It was received after an event with a later event time.">arrived out of order</span>`,
    );
  if (e.duplicates > 0)
    out.push(
      html`<span class="mark" data-mark="duplicates">arrived ${formatNumber(e.duplicates)} more time${e.duplicates === 1 ? '' : 's'}${e.lastDuplicateAt ? html` (last ${time(e.lastDuplicateAt)})` : EMPTY}</span>`,
    );
  if (e.eventTimeSource === 'receipt')
    out.push(
      html`<span class="mark" data-mark="no-event-time">no event time of its own: the receipt time stands in</span>`,
    );
  return out.length === 0 ? EMPTY : html`<p class="marks">${out}</p>`;
}

/**
 * One event of a transaction's timeline. The payload is loaded on demand: `payload` is given when
 * the page was asked for it (`?payload=<eventId>`, what works without scripts); otherwise the
 * client script fetches `data-payload-src` when the details open.
 */
export function timelineItem(
  e: StoredEventSummary,
  options: { outOfOrder: boolean; payload?: Html | undefined; fresh?: boolean; manySources?: boolean },
): Html {
  const pageHref =
    e.docvTransactionId === null ? '' : transactionHref(e.docvTransactionId, e.source, options.manySources === true);
  // The page's own query (`?source=…`) comes first, the payload's after it.
  const payloadHref = `${pageHref}${pageHref.includes('?') ? '&' : '?'}payload=${encodeURIComponent(e.eventId)}#event-${e.eventId}`;
  const src = `${eventHref(e.eventId)}/payload`;
  const payload =
    options.payload ??
    html`<p><a href="${payloadHref}">Show the payload</a> · <a href="${eventHref(e.eventId)}">event page</a></p>`;
  return html`<li id="event-${e.eventId}" data-id="${e.eventId}" data-event-type="${e.eventType}"${options.fresh === true ? html` class="fresh"` : EMPTY}>
<p><a href="${eventHref(e.eventId)}">${badge(e.eventType)}</a> ${e.decision ? badge(e.decision) : EMPTY} <span class="muted">${e.dialect}</span></p>
<p class="times">event time ${time(e.eventTime)} · received ${time(e.receivedAt)}${delay(e)}</p>
${marks(e, options.outOfOrder)}
<details data-payload-src="${src}"${options.payload === undefined ? EMPTY : html` open data-loaded="true"`}><summary>Payload</summary><div class="payload">${payload}</div></details>
</li>`;
}
