import { randomUUID } from 'node:crypto';
import type { Decision, DocvEventType } from '../contract/index.js';
import { attemptDelivery, type AttemptOutcome } from './delivery/attempt.js';
import { deliveryHeaders } from './delivery/headers.js';
import { DEFAULT_ATTEMPT_TIMEOUT_MS, nextRetryDelay } from '../retry/schedule.js';
import { newEventId } from './ids.js';
import { applyFieldOverrides, removeFields } from './set-fields.js';
import { resolveRetrySchedule } from './start.js';

export interface SendEventOptions {
  target: string;
  eventType: DocvEventType;
  /** A fresh UUID when absent. */
  docvTransactionId?: string;
  customerUserId?: string;
  /** On VERIFICATION_COMPLETED `accept` unless given; on other types only if given (which breaks the contract, on purpose). */
  decision?: Decision;
  set?: Record<string, unknown>;
  unset?: readonly string[];
  webhookSecret?: string;
  signingSecrets?: readonly string[];
  /** No retries unless a schedule is given. */
  retrySchedule?: readonly number[] | string;
  attemptTimeoutMs?: number;
  /** The `webhook-id`; a new one when absent. Reuse one to test a receiver's deduplication. */
  eventId?: string;
  random?: () => number;
  onAttempt?: (n: number, outcome: AttemptOutcome) => void;
}

export interface SendEventResult {
  eventId: string;
  payload: Record<string, unknown>;
  attempts: Array<AttemptOutcome & { n: number }>;
  delivered: boolean;
}

/** Sends one event (signed as configured), retrying on the schedule if one is given. */
export async function sendEvent(opts: SendEventOptions): Promise<SendEventResult> {
  const payload: Record<string, unknown> = {
    eventType: opts.eventType,
    docvTransactionId: opts.docvTransactionId ?? randomUUID(),
    ...(opts.customerUserId !== undefined ? { customerUserId: opts.customerUserId } : {}),
    eventTime: new Date().toISOString(),
  };
  const decision = opts.decision ?? (opts.eventType === 'VERIFICATION_COMPLETED' ? 'accept' : undefined);
  if (decision !== undefined) payload.decision = decision;
  if (opts.set) applyFieldOverrides(payload, opts.set);
  if (opts.unset) removeFields(payload, opts.unset);
  const body = JSON.stringify(payload);
  const eventId = opts.eventId ?? newEventId();
  const schedule = opts.retrySchedule === undefined ? [] : resolveRetrySchedule(opts.retrySchedule);
  const attempts: SendEventResult['attempts'] = [];
  for (let n = 1; n <= schedule.length + 1; n++) {
    const outcome = await attemptDelivery({
      url: opts.target,
      body,
      headers: deliveryHeaders({ webhookSecret: opts.webhookSecret, signingSecrets: opts.signingSecrets }, eventId, body, Date.now()),
      timeoutMs: opts.attemptTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS,
    });
    attempts.push({ ...outcome, n });
    opts.onAttempt?.(n, outcome);
    const code = outcome.statusCode;
    if (code !== undefined && code >= 200 && code < 300) return { eventId, payload, attempts, delivered: true };
    if (code === 410) break;
    const delay = nextRetryDelay({ schedule, attemptsMade: n, retryAfterMs: outcome.retryAfterMs, random: opts.random ?? Math.random });
    if (delay === undefined) break;
    await new Promise((r) => setTimeout(r, delay));
  }
  return { eventId, payload, attempts, delivered: false };
}
