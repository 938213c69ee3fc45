import { randomUUID } from 'node:crypto';
import { Agent } from 'undici';
import { DOCV_EVENT_TYPES, TEST_EVENT_TYPE, type CanonicalDecision, type Dialect } from '../contract/index.js';
import { attemptDelivery, type AttemptOutcome } from './delivery/attempt.js';
import { authRefusalOf, describeAuthRefusal, type AuthRefusal } from './delivery/auth-refusal.js';
import { deliveryHeaders } from './delivery/headers.js';
import { buildNotification, dialectOfEventType, type DocvSubject } from './dialects/index.js';
import { DEFAULT_ATTEMPT_TIMEOUT_MS, isGone, isRefusal, nextRetryDelay } from '../retry/schedule.js';
import { newEventId, newNotificationId } from './ids.js';
import { applyFieldOverrides, removeFields } from './set-fields.js';
import { resolveRetrySchedule } from './start.js';

export interface SendEventOptions {
  target: string;
  /**
   * The flat contract's four in `asyncapi`; any name in `socure-v5` and `riskos`: TEST_WEBHOOK,
   * the per-side uploads, `case_notes_added`, a type nobody knows yet…
   */
  eventType: string;
  /** Inferred from the event type when absent: the flat four are asyncapi, Socure's own v5 or RiskOS. */
  dialect?: Dialect;
  /** The transaction (v5's token); a fresh UUID when absent. */
  docvTransactionId?: string;
  customerUserId?: string;
  /**
   * asyncapi: on VERIFICATION_COMPLETED `accept` unless given; on other types only if given (which
   * breaks the contract, on purpose). socure-v5 and riskos: only on the event that carries the
   * result (VERIFICATION_COMPLETED, evaluation_completed), `accept` unless given.
   */
  decision?: CanonicalDecision;
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
  dialect: Dialect;
  payload: Record<string, unknown>;
  attempts: Array<AttemptOutcome & { n: number }>;
  delivered: boolean;
  /** The receiver refused our credentials or address: no retry was made, and this says which flag to check. */
  refused?: AuthRefusal;
}

/** Socure's test button says who it is about: a sample user when the caller names none. */
const TEST_CUSTOMER_USER_ID = 'sandbox-test-user';
const EVENT_TYPE_PATTERN = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;

export function resolveTriggerDialect(eventType: string, dialect: Dialect | undefined): Dialect {
  if (!EVENT_TYPE_PATTERN.test(eventType))
    throw new RangeError(
      `event type ${JSON.stringify(eventType)} must be a name of letters, digits and _ (at most 64)`,
    );
  const resolved = dialect ?? dialectOfEventType(eventType);
  if (resolved === undefined) {
    throw new RangeError(
      `nobody knows event type ${eventType} yet: the asyncapi contract has ${DOCV_EVENT_TYPES.join(', ')}; ` +
        'to send an unknown type on purpose, say which envelope with --dialect socure-v5 or riskos',
    );
  }
  return resolved;
}

/** The body `sendEvent` posts, in the dialect the event type calls for. */
export function triggerPayload(
  opts: Pick<SendEventOptions, 'eventType' | 'dialect' | 'docvTransactionId' | 'customerUserId' | 'decision'>,
): {
  dialect: Dialect;
  payload: Record<string, unknown>;
} {
  const dialect = resolveTriggerDialect(opts.eventType, opts.dialect);
  const test = opts.eventType === TEST_EVENT_TYPE;
  const customerUserId = opts.customerUserId ?? (test ? TEST_CUSTOMER_USER_ID : undefined);
  const subject: DocvSubject = {
    docvTransactionId: opts.docvTransactionId ?? randomUUID(),
    referenceId: randomUUID(),
    ...(customerUserId !== undefined ? { customerUserId } : {}),
    documentType: 'license',
    country: 'US',
  };
  const at = Date.now();
  const notificationId = newNotificationId();
  if (dialect === 'asyncapi') {
    const decision = opts.decision ?? (opts.eventType === 'VERIFICATION_COMPLETED' ? 'accept' : undefined);
    // The builder refuses any type but the contract's four.
    return {
      dialect,
      payload: buildNotification(dialect, opts.eventType, subject, { at, notificationId, decision }).payload,
    };
  }
  const carriesResult =
    opts.eventType === 'VERIFICATION_COMPLETED' || (dialect === 'riskos' && opts.eventType === 'evaluation_completed');
  if (opts.decision !== undefined && !carriesResult) {
    throw new RangeError(
      `in ${dialect} a decision goes with ${dialect === 'riskos' ? 'evaluation_completed' : 'VERIFICATION_COMPLETED'}; put one elsewhere with --set`,
    );
  }
  const decision = carriesResult ? (opts.decision ?? 'accept') : undefined;
  return {
    dialect,
    payload: buildNotification(dialect, opts.eventType, subject, { at, notificationId, decision }).payload,
  };
}

/** Sends one event (signed as configured), retrying on the schedule if one is given. */
export async function sendEvent(opts: SendEventOptions): Promise<SendEventResult> {
  const { dialect, payload } = triggerPayload(opts);
  if (opts.set) applyFieldOverrides(payload, opts.set);
  if (opts.unset) removeFields(payload, opts.unset);
  const body = JSON.stringify(payload);
  const eventId = opts.eventId ?? newEventId();
  const schedule = opts.retrySchedule === undefined ? [] : resolveRetrySchedule(opts.retrySchedule);
  const attempts: SendEventResult['attempts'] = [];
  // An agent of its own, closed at the end: a one-off command exits as soon as it is done.
  const agent = new Agent();
  try {
    for (let n = 1; n <= schedule.length + 1; n++) {
      const outcome = await attemptDelivery({
        url: opts.target,
        body,
        headers: deliveryHeaders(
          { webhookSecret: opts.webhookSecret, signingSecrets: opts.signingSecrets },
          eventId,
          body,
          Date.now(),
        ),
        timeoutMs: opts.attemptTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS,
        dispatcher: agent,
      });
      attempts.push({ ...outcome, n });
      opts.onAttempt?.(n, outcome);
      const code = outcome.statusCode;
      if (code !== undefined && code >= 200 && code < 300)
        return { eventId, dialect, payload, attempts, delivered: true };
      if (isGone(code)) break;
      const refusal = authRefusalOf(outcome);
      // Final: the same credentials would be refused again, and each retry feeds the receiver's failure limiter.
      if (refusal) {
        const statuses = { [String(code)]: 1 };
        const auth = { webhookSecret: opts.webhookSecret, signingSecrets: opts.signingSecrets };
        return {
          eventId,
          dialect,
          payload,
          attempts,
          delivered: false,
          refused: {
            kind: refusal,
            statuses,
            message: describeAuthRefusal(refusal, statuses, auth, outcome.retryAfterMs),
          },
        };
      }
      // Any other refusal (a 422 of the contract, a 409) is final too, as for Socure and the sandbox.
      if (isRefusal(code)) break;
      const delay = nextRetryDelay({
        schedule,
        attemptsMade: n,
        retryAfterMs: outcome.retryAfterMs,
        random: opts.random ?? Math.random,
      });
      if (delay === undefined) break;
      await new Promise((r) => setTimeout(r, delay));
    }
    return { eventId, dialect, payload, attempts, delivered: false };
  } finally {
    await agent.close();
  }
}
