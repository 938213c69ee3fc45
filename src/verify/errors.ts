import type { AuthCheck } from '../auth/types.js';
import type { ContractViolation, Dialect } from '../contract/index.js';

/**
 * What was wrong with a delivery, as `verifyDocvWebhook` found it. One code per refusal the
 * receiver's pipeline makes before it would store a delivery, with the HTTP status the pipeline
 * answers it with, so code built on the one-call check can answer a sender as `serve` does.
 */
export type DocvWebhookErrorCode =
  /** 413: the body is over `maxBodyBytes`. */
  | 'too-large'
  /** 401: a credential is missing, wrong, repeated or (signatures) outside the time tolerance. */
  | 'unauthenticated'
  /** 415: Content-Type is not JSON in UTF-8, or the body is compressed. */
  | 'unsupported-media-type'
  /** 400: `webhook-id` is empty or longer than 256 characters. */
  | 'invalid-delivery-id'
  /** 400: the body is not UTF-8 JSON. */
  | 'invalid-json'
  /** 422: the body is JSON but breaks its dialect's contract; `violations` says where. */
  | 'invalid-event';

/** What a DocvWebhookError carries besides its code and message. */
export interface DocvWebhookErrorDetails {
  status: number;
  failedCheck?: AuthCheck | undefined;
  dialect?: Dialect | undefined;
  violations?: readonly ContractViolation[] | undefined;
}

/**
 * Why `verifyDocvWebhook` refused a delivery. `code` is for code that branches on the cause; the
 * message is for a log line and, like the receiver's, never holds a secret, a signature or the
 * body (a violation may quote a field's value, so `violations` are kept apart from the message).
 */
export class DocvWebhookError extends Error {
  override readonly name = 'DocvWebhookError';
  /** The HTTP status the receiver answers this refusal with. */
  readonly status: number;
  /** For `unauthenticated`: the credential check that failed. */
  readonly failedCheck: AuthCheck | undefined;
  /** For `invalid-event`: the dialect the body was read as (announced by its shape, pinned, or closest). */
  readonly dialect: Dialect | undefined;
  /** For `invalid-event`: every violation, with its JSON path. Empty otherwise. */
  readonly violations: readonly ContractViolation[];

  constructor(
    /** What was wrong, for code that branches on it. */
    readonly code: DocvWebhookErrorCode,
    message: string,
    details: DocvWebhookErrorDetails,
  ) {
    super(message);
    this.status = details.status;
    this.failedCheck = details.failedCheck;
    this.dialect = details.dialect;
    this.violations = details.violations ?? [];
  }
}
