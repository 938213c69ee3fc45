import { COMPLETION_EVENT_TYPES, type CanonicalEvent } from '../canonical-event.js';
import { riskosEventSchema } from '../generated/dialect-schemas.js';
import type { RiskosEvent } from '../generated/dialect-types.js';
import { compileSchema, schemaViolations } from '../schema-violations.js';
import type { ContractViolation } from '../types.js';
import {
  canonicalDecision,
  idText,
  isObject,
  keyViolations,
  objectAt,
  reasonCodesOf,
  stringAt,
  timeViolations,
  type JsonObject,
} from './fields.js';

const validate = compileSchema<RiskosEvent>(riskosEventSchema);

function enrichments(body: RiskosEvent): JsonObject[] {
  const list = body.data.data_enrichments;
  return Array.isArray(list) ? list.filter(isObject) : [];
}

/**
 * The DocV token of a RiskOS event: in the response of the enrichment that requested the
 * document (`response.data.docvTransactionToken`, beside the capture URL), or directly in a
 * response. The first enrichment that has one wins; its JSON Pointer is returned for errors.
 */
function transactionOf(body: RiskosEvent): { id: string; path: string } | undefined {
  const list = body.data.data_enrichments;
  if (!Array.isArray(list)) return undefined;
  for (let i = 0; i < list.length; i++) {
    const response = objectAt(list[i], 'response');
    const nested = stringAt(response, 'data', 'docvTransactionToken');
    if (nested !== undefined)
      return { id: nested, path: `/data/data_enrichments/${i}/response/data/docvTransactionToken` };
    const direct = stringAt(response, 'docvTransactionToken');
    if (direct !== undefined) return { id: direct, path: `/data/data_enrichments/${i}/response/docvTransactionToken` };
  }
  return undefined;
}

/** The document result, in the enrichment named for document verification. */
function documentVerificationOf(body: RiskosEvent): JsonObject | undefined {
  for (const enrichment of enrichments(body)) {
    const verification = objectAt(enrichment, 'response', 'documentVerification');
    if (verification) return verification;
  }
  return undefined;
}

/** Every way `value` breaks the RiskOS dialect (spec/dialects/riskos.yaml plus the rules in code). */
export function riskosViolations(value: unknown): ContractViolation[] {
  const violations = schemaViolations(validate, value);
  const badPaths = new Set(violations.map((v) => v.path));
  const body = value as RiskosEvent;
  if (!badPaths.has('/event_id')) violations.push(...keyViolations('/event_id', stringAt(body, 'event_id')));
  violations.push(...timeViolations('/event_at', stringAt(body, 'event_at'), badPaths));
  if (!isObject(body.data) || badPaths.has('/data')) return violations;
  if (!badPaths.has('/data/eval_id')) violations.push(...keyViolations('/data/eval_id', body.data.eval_id));
  const tx = transactionOf(body);
  if (tx) violations.push(...keyViolations(tx.path, tx.id));
  return violations;
}

/**
 * A RiskOS event that has no violations, as the canonical event. The decision is the
 * evaluation's (`ACCEPT`, `REVIEW`, `REJECT`, kept as sent in decisionOriginal); reason codes and
 * the decision logic's name come from the document-verification enrichment.
 */
export function normaliseRiskos(body: RiskosEvent, receivedAt: Date): CanonicalEvent {
  const canonical: CanonicalEvent = {
    dialect: 'riskos',
    eventType: body.event_type,
    docvTransactionId: transactionOf(body)?.id ?? null,
    eventTime: body.event_at ?? receivedAt.toISOString(),
    eventTimeSource: body.event_at !== undefined ? 'event' : 'receipt',
    envelopeId: body.event_id,
    test: false,
    payload: body as Record<string, unknown>,
  };
  if (body.data.eval_id !== undefined) canonical.evaluationId = body.data.eval_id;
  if (COMPLETION_EVENT_TYPES.includes(body.event_type)) {
    const decision = canonicalDecision(body.data.decision);
    if (decision !== undefined) {
      canonical.decision = decision;
      if (body.data.decision !== decision) canonical.decisionOriginal = body.data.decision!;
    }
    const verification = documentVerificationOf(body);
    const name = stringAt(verification, 'decision', 'name');
    if (name !== undefined) canonical.decisionName = name;
    const reasonCodes = reasonCodesOf(verification?.reasonCodes);
    if (reasonCodes !== undefined) canonical.reasonCodes = reasonCodes;
  }
  for (const enrichment of enrichments(body)) {
    const customer = idText(objectAt(enrichment, 'response', 'customerProfile')?.customerUserId);
    if (customer !== undefined) {
      canonical.customerUserId = customer;
      break;
    }
  }
  return canonical;
}
