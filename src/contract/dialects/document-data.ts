import { isObject, type JsonObject } from './fields.js';

/** What replaces removed document data, so a reader sees that something was there. */
export const DOCUMENT_DATA_REMOVED = '[removed: document data is kept only with --store-document-data]';

/** Keys whose value is the personal data read from an identity document, wherever they appear. */
const DOCUMENT_DATA_KEYS = new Set(['documentData']);

/**
 * Keys of the extracted document fields when a sender puts them straight into `event.data` (one
 * vendor's DOCUMENTS_UPLOADED example does). Only removed there: elsewhere a key like `address`
 * may mean something else.
 */
const EXTRACTED_FIELDS = new Set([
  'firstName',
  'surName',
  'middleName',
  'fullName',
  'dob',
  'address',
  'parsedAddress',
  'documentNumber',
  'issueDate',
  'expirationDate',
  'rawData',
]);

/** Deep enough for every shape seen (RiskOS nests document data five levels down); JSON is capped at 64. */
const MAX_WALK_DEPTH = 64;

export interface DocumentDataRemoval {
  payload: JsonObject;
  removed: boolean;
}

/**
 * A copy of `payload` with document data (names, dates of birth, addresses, document numbers)
 * replaced by a marker; the payload itself when there was none, so the common case allocates
 * nothing. Reason codes, the decision and the document type stay. Idempotent: removing from an
 * already cleaned payload changes nothing, so a quarantined body run through ingest again hashes
 * like the original.
 */
export function withoutDocumentData(payload: JsonObject): DocumentDataRemoval {
  const cleaned = clean(payload, 0, false);
  return cleaned === payload ? { payload, removed: false } : { payload: cleaned as JsonObject, removed: true };
}

function clean(value: unknown, depth: number, inEventData: boolean): unknown {
  if (depth > MAX_WALK_DEPTH) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const next = clean(value[i], depth + 1, false);
      if (next !== value[i]) (copy ??= value.slice())[i] = next;
    }
    return copy ?? value;
  }
  if (!isObject(value)) return value;
  let copy: JsonObject | null = null;
  for (const [key, child] of Object.entries(value)) {
    let next: unknown;
    if ((DOCUMENT_DATA_KEYS.has(key) || (inEventData && EXTRACTED_FIELDS.has(key))) && child !== DOCUMENT_DATA_REMOVED)
      next = DOCUMENT_DATA_REMOVED;
    else next = clean(child, depth + 1, depth === 1 && key === 'data' && inEventDataParent(value));
    if (next !== child) (copy ??= { ...value })[key] = next;
  }
  return copy ?? value;
}

/** `event.data` of a v5 delivery: the object holding it is the `event` (it has an eventType). */
function inEventDataParent(holder: JsonObject): boolean {
  return typeof holder.eventType === 'string';
}
