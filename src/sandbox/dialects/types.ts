import type { CanonicalDecision } from '../../contract/index.js';
import type { DocumentType } from '../document-data.js';

/** What a notification is about: the transaction as every dialect needs to describe it. */
export interface DocvSubject {
  /** Socure's transaction token (`docvTransactionToken`); the flat contract's `docvTransactionId`. */
  docvTransactionId: string;
  referenceId: string;
  /** A number when the integrator gave one: Socure echoes it as such. */
  customerUserId?: string | number;
  userId?: string;
  documentType: DocumentType;
  country: string;
  /** The capture link, where a dialect carries it (RiskOS's document-request enrichment). */
  sessionUrl?: string;
}

export interface NotificationOptions {
  /** When it happened, in milliseconds. */
  at: number;
  /** The outcome, on the notification that carries one. */
  decision?: CanonicalDecision;
  /** False leaves the decision out (chaos `omitDecision`): the receiver has to fetch it. */
  includeDecision?: boolean;
  /** The envelope's own id (v5 `id`, RiskOS `event_id`); unused by the flat contract. */
  notificationId: string;
}

/** One body to deliver: its type as the dialect spells it, and the JSON. */
export interface Notification {
  eventType: string;
  payload: Record<string, unknown>;
}
