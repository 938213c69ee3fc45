import type { DocvEvent } from './generated/types.js';
import { DOCV_EVENT_TYPES, DECISIONS } from './generated/schema.js';

export type { DocvEvent };
export { DOCV_EVENT_TYPES, DECISIONS };

/** One of the spec's message names: APP_OPENED, DOCUMENTS_UPLOADED, … */
export type DocvEventType = (typeof DOCV_EVENT_TYPES)[number];
/** accept | reject | resubmit */
export type Decision = (typeof DECISIONS)[number];

/** The event narrowed to one type: handlers registered for a name get exactly this. */
export type DocvEventOf<T extends DocvEventType> = DocvEvent & { eventType: T } & (T extends 'VERIFICATION_COMPLETED'
    ? { decision?: Decision }
    : { decision?: never });

/** A violation of the contract, addressed by a JSON Pointer into the payload. */
export interface ContractViolation {
  path: string;
  message: string;
}

export function isDocvEventType(value: unknown): value is DocvEventType {
  return typeof value === 'string' && (DOCV_EVENT_TYPES as readonly string[]).includes(value);
}

export function isDecision(value: unknown): value is Decision {
  return typeof value === 'string' && (DECISIONS as readonly string[]).includes(value);
}
