import { isCanonicalDecision, type CanonicalDecision } from '../../contract/index.js';

/**
 * Which Socure call fetches a transaction's document-verification result:
 * - `idplus`: ID+ (`POST /api/3.0/EmailAuthScore` with the `documentverification` module), what
 *   Socure's integrators call (Login.gov among them); the default;
 * - `profile`: `GET /api/3.0/documents/{id}` ("Get A DocV Transaction" of the companion REST
 *   description), which the sandbox answers.
 */
export const SOCURE_APIS = ['idplus', 'profile'] as const;
export type SocureApi = (typeof SOCURE_APIS)[number];
export const DEFAULT_SOCURE_API_KIND: SocureApi = 'idplus';

export function isSocureApi(value: unknown): value is SocureApi {
  return typeof value === 'string' && (SOCURE_APIS as readonly string[]).includes(value);
}

export interface DecisionRequest {
  method: 'GET' | 'POST';
  url: string;
  /** JSON text, for a POST. */
  body?: string;
}

/** The HTTP call that asks `api` for a transaction's result; `base` has no trailing slash. */
export function decisionRequest(
  api: SocureApi,
  base: string,
  docvTransactionId: string,
  customerUserId: string | null,
): DecisionRequest {
  if (api === 'profile')
    return { method: 'GET', url: `${base}/api/3.0/documents/${encodeURIComponent(docvTransactionId)}` };
  const body: Record<string, unknown> = { modules: ['documentverification'], docvTransactionToken: docvTransactionId };
  // Socure matches the call to the integrator's user with it; an unknown one is left out, not sent empty.
  if (customerUserId !== null) body.customerUserId = customerUserId;
  return { method: 'POST', url: `${base}/api/3.0/EmailAuthScore`, body: JSON.stringify(body) };
}

/** What an answer says: the decision with its reason codes, or why there is none yet. */
export type DecisionAnswer =
  | { kind: 'decided'; decision: CanonicalDecision; decisionName?: string; reasonCodes: string[] }
  | { kind: 'pending'; why: string };

export const NO_DECISION_YET = 'no decision in the response yet';

/** Bounds as the v5 dialect's schema has them: a reason code is short, and there are not many. */
const MAX_REASON_CODES = 200;
const MAX_CODE_LENGTH = 64;
const MAX_NAME_LENGTH = 64;

/**
 * Reads the decision out of a 2xx answer. ID+ nests it under `documentVerification`, with the
 * reason codes beside `decision` rather than inside; the profile answer has `decision` at the top
 * with its codes inside.
 */
export function readDecisionAnswer(api: SocureApi, body: Record<string, unknown>): DecisionAnswer {
  const holder = api === 'idplus' ? objectAt(body, 'documentVerification') : body;
  const decision = holder ? objectAt(holder, 'decision') : undefined;
  if (!holder || !decision || decision.value === undefined || decision.value === null)
    return { kind: 'pending', why: NO_DECISION_YET };
  const value = canonicalDecision(decision.value);
  if (value === null)
    return {
      kind: 'pending',
      why: `unrecognised decision ${JSON.stringify(decision.value).slice(0, 80)} in the response`,
    };
  const codes = api === 'idplus' ? holder.reasonCodes : decision.reasonCodes;
  const name = boundedString(decision.name, MAX_NAME_LENGTH);
  return {
    kind: 'decided',
    decision: value,
    ...(name !== undefined ? { decisionName: name } : {}),
    reasonCodes: reasonCodesOf(codes),
  };
}

/** `ACCEPT`, ` Accept ` → `accept`; anything that is not one of the four decisions → null. */
export function canonicalDecision(value: unknown): CanonicalDecision | null {
  if (typeof value !== 'string') return null;
  const v = value.trim().toLowerCase();
  return isCanonicalDecision(v) ? v : null;
}

/** Strings only, each a plausible code, and not too many: the answer is not ours to trust blindly. */
export function reasonCodesOf(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  const out: string[] = [];
  for (const item of value) {
    const code = boundedString(item, MAX_CODE_LENGTH);
    if (code !== undefined) out.push(code);
    if (out.length === MAX_REASON_CODES) break;
  }
  return out;
}

function boundedString(value: unknown, max: number): string | undefined {
  if (typeof value !== 'string') return undefined;
  const v = value.trim();
  return v.length > 0 && v.length <= max ? v : undefined;
}

function objectAt(obj: Record<string, unknown>, key: string): Record<string, unknown> | undefined {
  const v = obj[key];
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}
