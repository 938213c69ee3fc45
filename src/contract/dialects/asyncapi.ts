import type { CanonicalEvent } from '../canonical-event.js';
import { canonicalOfFlat } from '../stored-event.js';
import type { ContractViolation, DocvEvent } from '../types.js';
import { contractViolations } from '../validate.js';

/** The flat contract of spec/asyncapi.yaml, as a dialect. */
export function asyncapiViolations(value: unknown): ContractViolation[] {
  return contractViolations(value);
}

export function normaliseAsyncapi(event: DocvEvent): CanonicalEvent {
  return canonicalOfFlat(event);
}
