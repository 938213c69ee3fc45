import type { StoredEvent } from '../../store/index.js';
import { EMPTY, html, type Html } from './html.js';
import { maskPersonalData } from './masking.js';

/**
 * The payload as people may see it: personal data masked by key (masking.ts) unless the receiver
 * keeps document data on purpose (`storeDocumentData`), when whoever reads the dashboard is
 * meant to see it.
 */
export function shownPayload(payload: unknown, storeDocumentData: boolean): { text: string; masked: boolean } {
  const original = JSON.stringify(payload, null, 2);
  if (storeDocumentData) return { text: original, masked: false };
  const text = JSON.stringify(maskPersonalData(payload), null, 2);
  return { text, masked: text !== original };
}

const MASKED_NOTE = html`<p class="muted" data-masked="true">Personal data (names, dates of birth, addresses, document numbers, emails, phone numbers…) is masked here; the receiver keeps it only with --store-document-data.</p>`;

export function removedNote(e: StoredEvent): Html {
  return e.event.documentDataRemoved
    ? html`<p class="note">Document data (names, dates of birth, addresses, document numbers) was removed before the event was stored: the payload and the raw body hold a marker in its place, and the raw body is the cleaned payload written out again.</p>`
    : EMPTY;
}

/** An event's payload, pretty-printed and masked: the timeline's on-demand part and the fragment the script loads. */
/** An event whose raw body retention removed: what is left to say about it. */
function retentionNote(e: StoredEvent): Html {
  return html`<p class="muted">Payload, raw body, headers and document data removed by retention on ${e.removedByRetention!.raw}.</p>`;
}

export function payloadBlock(e: StoredEvent, storeDocumentData: boolean): Html {
  if (e.removedByRetention) return retentionNote(e);
  const shown = shownPayload(e.payload, storeDocumentData);
  return html`${removedNote(e)}${shown.masked ? MASKED_NOTE : EMPTY}<pre tabindex="0">${shown.text}</pre>`;
}

/**
 * The raw body: as it came, unless masking changed something in it, when it is shown parsed and
 * masked (saying so) rather than leaking what the payload view hides.
 */
export function rawBodyBlock(e: StoredEvent, storeDocumentData: boolean): Html {
  if (e.removedByRetention) return retentionNote(e);
  if (storeDocumentData) return html`<pre tabindex="0">${e.rawBody}</pre>`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(e.rawBody);
  } catch {
    return html`<pre tabindex="0">${e.rawBody}</pre>`;
  }
  const shown = shownPayload(parsed, false);
  if (!shown.masked) return html`<pre tabindex="0">${e.rawBody}</pre>`;
  return html`${MASKED_NOTE}<pre tabindex="0">${shown.text}</pre>`;
}
