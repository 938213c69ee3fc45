import { DIALECTS, type CanonicalEvent, type Dialect } from '../canonical-event.js';
import { contentKey } from '../canonical.js';
import type { RiskosEvent, SocureV5Notification } from '../generated/dialect-types.js';
import { notAnObject } from '../schema-violations.js';
import type { ContractViolation, DocvEvent } from '../types.js';
import { parseJsonBody } from '../validate.js';
import { asyncapiViolations, normaliseAsyncapi } from './asyncapi.js';
import { dialectByShape } from './detect.js';
import { withoutDocumentData } from './document-data.js';
import { isObject, type JsonObject } from './fields.js';
import { normaliseRiskos, riskosViolations } from './riskos.js';
import { normaliseSocureV5, socureV5Violations } from './socure-v5.js';

interface DialectReader {
  violations(value: unknown): ContractViolation[];
  normalise(value: JsonObject, receivedAt: Date): CanonicalEvent;
}

const READERS: Readonly<Record<Dialect, DialectReader>> = {
  asyncapi: { violations: asyncapiViolations, normalise: (v) => normaliseAsyncapi(v as unknown as DocvEvent) },
  'socure-v5': {
    violations: socureV5Violations,
    normalise: (v, at) => normaliseSocureV5(v as SocureV5Notification, at),
  },
  riskos: { violations: riskosViolations, normalise: (v, at) => normaliseRiskos(v as RiskosEvent, at) },
};

export interface ParseDeliveryOptions {
  /** Accept only this dialect; by default each delivery's shape picks one. */
  dialect?: Dialect | undefined;
  /** Stands in for the event time when the sender gave none. */
  receivedAt: Date;
  /** Keep document data (PII) in the stored payload; off by default. */
  keepDocumentData?: boolean | undefined;
}

export type DeliveryParseResult =
  | {
      ok: true;
      event: CanonicalEvent;
      /** SHA-256 of the canonical JSON, of the payload as stored (see contentHashOf). */
      contentHash: string;
    }
  | { ok: false; kind: 'encoding' | 'syntax'; message: string }
  | {
      ok: false;
      kind: 'contract';
      /** The dialect the body was read as: the one pinned, the one its shape announced, or the closest. */
      dialect: Dialect;
      /** Whether the shape announced the dialect (false: none did, this one was closest). */
      detected: boolean;
      errors: ContractViolation[];
      /** The body as JSON, for quarantine (document data removed there too). */
      value: unknown;
    };

/**
 * The dialect a body that announces none is closest to: the one it breaks in the fewest places
 * (ties to the order of DIALECTS, the flat contract first).
 */
function closestDialect(value: unknown): { dialect: Dialect; errors: ContractViolation[] } {
  let best: { dialect: Dialect; errors: ContractViolation[] } | null = null;
  for (const dialect of DIALECTS) {
    const errors = READERS[dialect].violations(value);
    if (best === null || errors.length < best.errors.length) best = { dialect, errors };
  }
  return best!;
}

/**
 * What a delivery is deduplicated and compared by. Flat events: their canonical JSON as before.
 * Other dialects: that of the payload as it is stored, without document data, so that a body that
 * was quarantined (and so cleaned) and is run through ingest again compares equal to the original.
 */
function contentHashOf(event: CanonicalEvent): string {
  return contentKey(event.payload);
}

/**
 * Reads the raw bytes of an authenticated delivery in whichever dialect it is written (or the one
 * pinned), checks it against that dialect's schema and rules, and folds it into the canonical
 * event. Document data is removed from the payload unless kept on purpose.
 */
export function parseDelivery(raw: Uint8Array | string, options: ParseDeliveryOptions): DeliveryParseResult {
  const body = parseJsonBody(raw);
  if (!body.ok) return body;
  const value = body.value;
  const announced = options.dialect ?? dialectByShape(value);
  const notObject = notAnObject(value);
  let dialect: Dialect;
  let errors: ContractViolation[];
  if (notObject) {
    // Every dialect is an object: nothing to be closer to. The flat contract is the one we name.
    dialect = announced ?? 'asyncapi';
    errors = [notObject];
  } else if (announced !== null) {
    dialect = announced;
    errors = READERS[dialect].violations(value);
  } else {
    ({ dialect, errors } = closestDialect(value));
  }
  if (errors.length > 0) return { ok: false, kind: 'contract', dialect, detected: announced !== null, errors, value };
  const event = READERS[dialect].normalise(value as JsonObject, options.receivedAt);
  if (dialect === 'asyncapi') return { ok: true, event, contentHash: contentKey(value) };
  const cleaned = withoutDocumentData(event.payload);
  const hashed: CanonicalEvent = cleaned.removed ? { ...event, payload: cleaned.payload } : event;
  const contentHash = contentHashOf(hashed);
  if (options.keepDocumentData || !cleaned.removed) return { ok: true, event, contentHash };
  return { ok: true, event: { ...hashed, documentDataRemoved: true }, contentHash };
}

/** The body of a rejected delivery as it may be kept in quarantine: without document data. */
export function quarantinableBody(value: unknown, raw: Uint8Array, keepDocumentData: boolean): Uint8Array {
  if (keepDocumentData || !isObject(value)) return raw;
  const cleaned = withoutDocumentData(value);
  return cleaned.removed ? Buffer.from(JSON.stringify(cleaned.payload), 'utf8') : raw;
}
