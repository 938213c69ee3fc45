import type { CanonicalDecision } from '../contract/index.js';
import { SANDBOX_REASON_CODES, syntheticPerson, type DocumentType } from './document-data.js';

/**
 * Socure's `documentVerification` object, as the facts file describes it for v5's
 * VERIFICATION_COMPLETED (`event.data.documentVerification`), the RiskOS document-verification
 * enrichment and the ID+ result: one builder, so the three cannot disagree about a transaction.
 */

export interface ParsedAddress {
  physicalAddress: string;
  physicalAddress2: string;
  city: string;
  state: string;
  zip: string;
  country: string;
}

export interface SocureDocumentData {
  firstName: string;
  surName: string;
  fullName: string;
  dob: string;
  address: string;
  parsedAddress: ParsedAddress;
  documentNumber: string;
  issueDate: string;
  expirationDate: string;
}

export interface DocumentVerification {
  /** Beside `decision`, not inside it. */
  reasonCodes: string[];
  /** `state` only where the document has one (a US driver's license). */
  documentType: { type: string; country: string; state?: string };
  /** Left out before the result is ready, and when chaos drops it. */
  decision?: { name: string; value: CanonicalDecision };
  documentData: SocureDocumentData;
}

/**
 * The decision logic Socure names beside the outcome (`standard`, `lenient`). The sandbox always
 * applies the one logic; a receiver must read `value`, whatever `name` says.
 */
export const DECISION_LOGIC = 'standard';

const DOCUMENT_TYPE_NAMES: Record<DocumentType, string> = {
  license: 'Drivers License',
  passport: 'Passport',
  residence_permit: 'Residence Permit',
};

/** Socure spells countries in alpha-3 (`USA`); the sandbox's transactions keep alpha-2. A few common ones suffice. */
const ALPHA3: Record<string, string> = {
  US: 'USA',
  CA: 'CAN',
  MX: 'MEX',
  GB: 'GBR',
  IE: 'IRL',
  FR: 'FRA',
  DE: 'DEU',
  ES: 'ESP',
  IT: 'ITA',
  NL: 'NLD',
  PT: 'PRT',
  IN: 'IND',
  PH: 'PHL',
  BR: 'BRA',
  AU: 'AUS',
  NZ: 'NZL',
  JP: 'JPN',
  CN: 'CHN',
};

export function alpha3(country: string): string {
  return ALPHA3[country.toUpperCase()] ?? country.toUpperCase();
}

/** What the document shows: the same person as Get A DocV Transaction reports for the transaction. */
export function socureDocumentData(docvTransactionId: string, country: string, completedAt: Date): SocureDocumentData {
  const p = syntheticPerson(docvTransactionId, completedAt);
  return {
    firstName: p.firstName,
    surName: p.surName,
    fullName: `${p.firstName} ${p.surName}`,
    dob: p.dob,
    address: `${p.street}, ${p.city}, ${p.state} ${p.zip}`,
    parsedAddress: {
      physicalAddress: p.street,
      physicalAddress2: `${p.city} ${p.state} ${p.zip}`,
      city: p.city,
      state: p.state,
      zip: p.zip,
      country: alpha3(country),
    },
    documentNumber: p.documentNumber,
    issueDate: p.issueDate,
    expirationDate: p.expirationDate,
  };
}

export interface DocumentVerificationInput {
  docvTransactionId: string;
  documentType: DocumentType;
  country: string;
  /** Absent: the result without its decision. */
  decision?: CanonicalDecision;
  completedAt: Date;
}

export function documentVerification(input: DocumentVerificationInput): DocumentVerification {
  const data = socureDocumentData(input.docvTransactionId, input.country, input.completedAt);
  const usLicense = input.documentType === 'license' && input.country.toUpperCase() === 'US';
  return {
    reasonCodes: input.decision === undefined ? [] : [...SANDBOX_REASON_CODES[input.decision]],
    documentType: {
      type: DOCUMENT_TYPE_NAMES[input.documentType],
      country: alpha3(input.country),
      ...(usLicense ? { state: data.parsedAddress.state } : {}),
    },
    ...(input.decision === undefined ? {} : { decision: { name: DECISION_LOGIC, value: input.decision } }),
    documentData: data,
  };
}

/** The sample person of Socure's dashboard test event: fixed, so every test webhook shows the same one. */
export function sampleDocumentData(): SocureDocumentData {
  return socureDocumentData('TEST_WEBHOOK', 'US', new Date(Date.UTC(2026, 0, 1)));
}
