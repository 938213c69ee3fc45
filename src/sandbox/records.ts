import type { CanonicalDecision, Dialect, DocvEventType } from '../contract/index.js';
import type { ChaosOverrides } from './chaos.js';
import type { DocumentType } from './document-data.js';
import type { ConcreteScenario, ScenarioName } from './scenarios.js';
import type { TransactionStatus } from './status.js';

/**
 * The sandbox's own durable state: transactions, the scenario steps still to come, the events
 * that happened and every delivery and attempt. Separate from the receiver's store on purpose: the
 * sandbox plays Socure, and Socure's records are not the integrator's.
 */

export interface TransactionRecord {
  docvTransactionId: string;
  referenceId: string;
  sessionToken: string;
  /** A number when the integrator sent one: v5 notifications echo it as a number, as Socure does. */
  customerUserId?: string | number;
  userId?: string;
  webhookUrl?: string;
  /** How this transaction's notifications are shaped. */
  dialect: Dialect;
  documentType: DocumentType;
  country: string;
  redirectUrl?: string;
  requestedScenario: ScenarioName;
  scenario: ConcreteScenario;
  /** The decision this transaction completes with unless an explicit one is given. */
  outcome: CanonicalDecision;
  timeScale: number;
  chaos?: ChaosOverrides;
  status: TransactionStatus;
  decision?: CanonicalDecision;
  uploads: string[];
  createdAt: number;
  completedAt?: number;
}

export interface StepRecord {
  id: number;
  docvTransactionId: string;
  eventType: DocvEventType;
  decision?: CanonicalDecision;
  dueAt: number;
}

export interface EventRecord {
  eventId: string;
  docvTransactionId: string;
  /** As the transaction's dialect names it: APP_OPENED, DOCUMENT_BACK_UPLOADED, case_notes_added… */
  eventType: string;
  /** The exact bytes every delivery of this event sends. */
  body: string;
  createdAt: number;
}

/**
 * `failed`: no attempts left on the retry schedule; `gone`: the receiver answered 410;
 * `rejected`: it answered another 4xx than 408 and 429, which no retry changes; `cancelled`: a
 * user said so (`POST /sandbox/deliveries/{id}/cancel`). None of the final ones holds back the
 * transaction's later deliveries.
 */
export type DeliveryStatus =
  'held' | 'pending' | 'in_flight' | 'delivered' | 'failed' | 'gone' | 'rejected' | 'cancelled';
export const FINAL_DELIVERY_STATUSES: readonly DeliveryStatus[] = [
  'delivered',
  'failed',
  'gone',
  'rejected',
  'cancelled',
];
export const DELIVERY_STATUSES: readonly DeliveryStatus[] = [
  'held',
  'pending',
  'in_flight',
  ...FINAL_DELIVERY_STATUSES,
];

export interface DeliveryRecord {
  id: number;
  eventId: string;
  docvTransactionId: string;
  /** The notification's type as its dialect names it. */
  eventType: string;
  url: string;
  body: string;
  /** Order within the transaction; ordered deliveries wait for every earlier one to finish. */
  position: number;
  ordered: boolean;
  /** 1 for the event's own delivery, 2 for a chaos duplicate. */
  copy: number;
  status: DeliveryStatus;
  attempts: number;
  /** Attempts made before the last manual retry: the retry schedule starts over after them. */
  retryFrom: number;
  notBefore: number;
  lastStatusCode?: number;
  lastError?: string;
  createdAt: number;
  finishedAt?: number;
}

/** A delivery as the API shows it: with the earlier delivery of its transaction it waits for, if any. */
export interface DeliveryListing extends DeliveryRecord {
  waitingFor?: number;
}

export interface AttemptRecord {
  deliveryId: number;
  n: number;
  startedAt: number;
  latencyMs: number;
  statusCode?: number;
  error?: string;
  retryAfterMs?: number;
  /** The start of the response body, for people reading the log. */
  response?: string;
}

export interface DeliveryFilter {
  docvTransactionId?: string;
  /** As shown: `held` includes pending deliveries waiting behind an earlier one, `pending` leaves them out. */
  status?: DeliveryStatus;
  limit?: number;
  /** Only deliveries with an id above this (paging forward). */
  afterId?: number;
}
