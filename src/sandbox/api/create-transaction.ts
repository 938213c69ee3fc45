import { DIALECTS } from '../../contract/index.js';
import { chaosFromJson } from '../chaos.js';
import { DOCUMENT_TYPES } from '../document-data.js';
import { badRequest } from '../errors.js';
import { SCENARIOS } from '../scenarios.js';
import type { CreateTransactionInput, DocvService } from '../service.js';
import type { TransactionRecord } from '../records.js';
import { asObject, httpUrl, oneOf, optionalString } from './validate.js';

/** Upper bound of a per-transaction time scale: 1000× slower than life is already a day per minute. */
const MAX_TIME_SCALE = 1000;

/** Longest customerUserId accepted, as text. */
const MAX_CUSTOMER_USER_ID = 256;

/**
 * A string, or a whole number: Socure's deliveries have been seen carrying a numeric
 * customerUserId, and the sandbox echoes one as it was given.
 */
export function customerUserIdField(obj: Record<string, unknown>): string | number | undefined {
  const v = obj.customerUserId;
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0)
      throw badRequest('customerUserId must be a string or a non-negative whole number');
    return v;
  }
  return optionalString(obj, 'customerUserId', MAX_CUSTOMER_USER_ID);
}

/**
 * The body of `POST /api/3.0/EmailAuthScore` with module `docvtransaction`, as the sandbox reads
 * it. Fields of the real API that DocV does not need (name, email…) are accepted and ignored;
 * `dialect` (how the transaction's webhooks are shaped) and `sandbox` are the sandbox's own
 * extensions and are strict, so a typo in a test does not silently run the wrong scenario.
 */
export function parseCreateRequest(body: unknown, hasDefaultWebhookUrl: boolean): CreateTransactionInput {
  const obj = asObject(body);
  const modules = obj.modules;
  if (!Array.isArray(modules) || !modules.some((m) => typeof m === 'string' && m.toLowerCase() === 'docvtransaction')) {
    throw badRequest(
      'modules must be an array that includes "docvtransaction" (to create a transaction) or "documentverification" (to read its result)',
    );
  }
  const webhookUrlText = optionalString(obj, 'webhookUrl', 2048);
  if (webhookUrlText === undefined && !hasDefaultWebhookUrl) {
    throw badRequest('webhookUrl is required: this sandbox has no --default-webhook-url');
  }
  const redirectUrlText = optionalString(obj, 'redirectUrl', 2048);
  const country = optionalString(obj, 'country', 2);
  if (country !== undefined && !/^[A-Za-z]{2}$/.test(country))
    throw badRequest('country must be an ISO 3166-1 alpha-2 code such as "US"');
  const input: CreateTransactionInput = {
    customerUserId: customerUserIdField(obj),
    userId: optionalString(obj, 'userId'),
    dialect: oneOf(obj.dialect, DIALECTS, 'dialect'),
    webhookUrl: webhookUrlText === undefined ? undefined : httpUrl(webhookUrlText, 'webhookUrl'),
    redirectUrl: redirectUrlText === undefined ? undefined : httpUrl(redirectUrlText, 'redirectUrl'),
    documentType: oneOf(obj.documentType, DOCUMENT_TYPES, 'documentType'),
    country: country?.toUpperCase(),
  };
  if (obj.sandbox !== undefined) {
    const sandbox = asObject(obj.sandbox, 'sandbox');
    for (const key of Object.keys(sandbox)) {
      if (!['scenario', 'timeScale', 'chaos'].includes(key))
        throw badRequest(`unknown sandbox setting "${key}" (known: scenario, timeScale, chaos)`);
    }
    input.scenario = oneOf(sandbox.scenario, SCENARIOS, 'sandbox.scenario');
    if (sandbox.timeScale !== undefined) {
      const t = sandbox.timeScale;
      if (typeof t !== 'number' || !Number.isFinite(t) || t < 0 || t > MAX_TIME_SCALE) {
        throw badRequest(`sandbox.timeScale must be a number from 0 to ${MAX_TIME_SCALE}`);
      }
      input.timeScale = t;
    }
    const chaos = chaosFromJson(sandbox.chaos);
    if (!chaos.ok) throw badRequest(`sandbox.chaos: ${chaos.reason}`);
    if (Object.keys(chaos.value).length > 0) input.chaos = chaos.value;
  }
  return input;
}

export interface CreateTransactionDeps {
  service: DocvService;
  sessionUrl: (token: string) => string;
  hasDefaultWebhookUrl: boolean;
  /** Why the sandbox will not deliver to a URL (--allow-target), or undefined. */
  webhookUrlProblem: (url: string, field: string) => Promise<string | undefined>;
}

/** Create A DocV Transaction: what the real API answers, a referenceId, the token and the capture link. */
export async function createTransaction(
  deps: CreateTransactionDeps,
  body: unknown,
): Promise<{ tx: TransactionRecord; answer: Record<string, unknown> }> {
  const input = parseCreateRequest(body, deps.hasDefaultWebhookUrl);
  // Refused before anything is stored: no transaction, no queued delivery.
  if (input.webhookUrl !== undefined) {
    const problem = await deps.webhookUrlProblem(input.webhookUrl, 'webhookUrl');
    if (problem) throw badRequest(problem);
  }
  const tx = deps.service.create(input);
  return {
    tx,
    answer: {
      referenceId: tx.referenceId,
      docvTransactionId: tx.docvTransactionId,
      sessionUrl: deps.sessionUrl(tx.sessionToken),
    },
  };
}
