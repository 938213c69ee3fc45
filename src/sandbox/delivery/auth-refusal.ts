import type { AttemptOutcome } from './attempt.js';
import type { DeliveryAuth } from './headers.js';

/**
 * Answers that say the receiver takes nothing from us as we are configured, so that retrying
 * cannot help: wrong or missing credentials (401), a source address it does not allow (403),
 * and the 429 its failure limiter gives an address after too many of those 401s.
 */
export type AuthRefusalKind = 'credentials' | 'address' | 'blocked';

export interface AuthRefusal {
  kind: AuthRefusalKind;
  /** Refusals seen, by status: `{"401": 3}`. */
  statuses: Record<string, number>;
  /** What to tell the user, naming the flags to check. */
  message: string;
}

/**
 * Answers in a row that must refuse us before `simulate` stops. More than one, so one odd answer
 * does not end a run; few enough that the receiver's failure limiter (10 by default) never trips.
 */
export const AUTH_REFUSALS_TO_STOP = 3;

/** The problem type this project's receiver gives the 429 of its failure limiter. */
const FAILURE_LIMIT_PROBLEM = /"type"\s*:\s*"[^"]*too-many-failures"/;

export function authRefusalOf(outcome: Pick<AttemptOutcome, 'statusCode' | 'response'>): AuthRefusalKind | undefined {
  if (outcome.statusCode === 401) return 'credentials';
  if (outcome.statusCode === 403) return 'address';
  // Any other 429 is a receiver asking us to slow down: that one is worth retrying.
  if (outcome.statusCode === 429 && FAILURE_LIMIT_PROBLEM.test(outcome.response)) return 'blocked';
  return undefined;
}

const CREDENTIAL_FLAGS = '--webhook-secret (DOCV_WEBHOOK_SECRETS) and --signing-secret (DOCV_WEBHOOK_SIGNING_SECRETS)';

const NOTHING_SENT = 'we sent no credentials';

function whatWeSent(auth: DeliveryAuth): string {
  const secret = auth.webhookSecret !== undefined && auth.webhookSecret !== '';
  const signed = (auth.signingSecrets?.length ?? 0) > 0;
  if (secret && signed) return 'we sent a webhook secret and a signature';
  if (secret) return 'we sent a webhook secret, no signature';
  if (signed) return 'we sent a signature, no webhook secret';
  return NOTHING_SENT;
}

export function describeAuthRefusal(
  kind: AuthRefusalKind,
  statuses: Record<string, number>,
  auth: DeliveryAuth,
  retryAfterMs?: number,
): string {
  const seen = Object.entries(statuses)
    .map(([status, n]) => `${status} ×${n}`)
    .join(', ');
  if (kind === 'credentials') {
    const sent = whatWeSent(auth);
    const fix =
      sent === NOTHING_SENT
        ? `give the receiver's with ${CREDENTIAL_FLAGS.replace(' and ', ' and/or ')}`
        : `check that ${CREDENTIAL_FLAGS} match the receiver's`;
    return `the receiver refuses our credentials (${seen}; ${sent}): ${fix}`;
  }
  if (kind === 'address') {
    return (
      `the receiver forbids deliveries from this address (${seen}): add it to the receiver's allow-list (--allow-ip, DOCV_ALLOWED_IPS); ` +
      `a receiver other than docv-webhooks may also mean that ${CREDENTIAL_FLAGS} do not match`
    );
  }
  const wait = retryAfterMs !== undefined ? `, retry after ${Math.ceil(retryAfterMs / 1000)} s` : '';
  return (
    `the receiver has blocked this address after too many failed authentications (${seen}${wait}): check that ${CREDENTIAL_FLAGS} match the receiver's, ` +
    "then wait for the block to end or restart the receiver; the receiver's --auth-failure-limit sets the threshold, 0 turns it off"
  );
}

/**
 * Watches a run's answers for refusals of our credentials or address, for `simulate`.
 *
 * Until one answer shows that the receiver takes our deliveries, one attempt at a time: a wrong
 * secret then costs the receiver a few failed authentications, not one per attempt in flight,
 * which (over its failure limit) would block this address, and every other sender on it, for
 * minutes. After `limit` refusals in a row nothing more is started: the run stops within
 * seconds and says which flag to check, instead of retrying into the failure limiter.
 */
export class AuthRefusalWatch {
  private inARow = 0;
  private readonly statuses: Record<string, number> = {};
  /** An answer other than a refusal came: the receiver takes what we send. */
  private through = false;
  private refusal: AuthRefusal | undefined;

  constructor(
    private readonly auth: DeliveryAuth,
    private readonly limit = AUTH_REFUSALS_TO_STOP,
  ) {}

  /** Set once the run should stop. */
  get stopped(): AuthRefusal | undefined {
    return this.refusal;
  }

  observe(outcome: AttemptOutcome): void {
    if (this.refusal) return;
    const kind = authRefusalOf(outcome);
    if (kind === undefined) {
      this.inARow = 0;
      this.through = true;
      return;
    }
    const status = String(outcome.statusCode);
    this.statuses[status] = (this.statuses[status] ?? 0) + 1;
    this.inARow += 1;
    if (this.inARow >= this.limit) {
      this.refusal = {
        kind,
        statuses: { ...this.statuses },
        message: describeAuthRefusal(kind, this.statuses, this.auth, outcome.retryAfterMs),
      };
    }
  }

  /** Attempts that may be in flight now, out of `maxInFlight`. */
  capacity(maxInFlight: number): number {
    if (this.refusal) return 0;
    return this.through ? maxInFlight : 1;
  }
}
