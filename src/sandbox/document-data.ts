import { createHash } from 'node:crypto';
import type { CanonicalDecision } from '../contract/index.js';

/**
 * Synthetic verification results for Get A DocV Transaction, in the `DocvDecision` shape of the
 * companion REST description. Everything is derived from the transaction id, so the same
 * transaction always shows the same person. The reason codes are sandbox stand-ins chosen per
 * decision, not Socure's catalogue.
 */
export const SANDBOX_REASON_CODES: Record<CanonicalDecision, readonly string[]> = {
  accept: ['I831', 'I836'],
  reject: ['R810', 'R827'],
  resubmit: ['R831', 'I834'],
  review: ['I831', 'R845'],
};

export type DocumentType = 'license' | 'passport' | 'residence_permit';
export const DOCUMENT_TYPES: readonly DocumentType[] = ['license', 'passport', 'residence_permit'];

/** What the capture flow must receive before DOCUMENTS_UPLOADED: both sides of a card, one page of a passport, and a selfie. */
export const REQUIRED_UPLOADS: Record<DocumentType, readonly string[]> = {
  license: ['license_front', 'license_back', 'selfie'],
  passport: ['passport', 'selfie'],
  residence_permit: ['residence_permit', 'selfie'],
};
export const UPLOAD_TYPES = ['license_front', 'license_back', 'passport', 'selfie', 'residence_permit'] as const;

const FIRST_NAMES = ['Ada', 'Grace', 'Alan', 'Katherine', 'Edsger', 'Barbara', 'Donald', 'Frances'];
const SURNAMES = ['Lovelace', 'Hopper', 'Turing', 'Johnson', 'Dijkstra', 'Liskov', 'Knuth', 'Allen'];
const STREETS = ['Main St', 'Oak Ave', 'Maple Dr', 'Cedar Ln', 'Elm St', 'Park Rd'];
const PLACES: ReadonlyArray<{ city: string; state: string; zip: string }> = [
  { city: 'Baltimore', state: 'MD', zip: '21201' },
  { city: 'Columbus', state: 'OH', zip: '43215' },
  { city: 'Denver', state: 'CO', zip: '80202' },
  { city: 'Austin', state: 'TX', zip: '78701' },
  { city: 'Portland', state: 'OR', zip: '97204' },
  { city: 'Raleigh', state: 'NC', zip: '27601' },
];

/** The made-up person a transaction's documents show: the same for every API that reports it. */
export interface SyntheticPerson {
  firstName: string;
  surName: string;
  dob: string;
  documentNumber: string;
  issueDate: string;
  expirationDate: string;
  street: string;
  city: string;
  state: string;
  zip: string;
  /** One byte of the hash, for callers that derive more (selfie scores). */
  spare: number;
}

function isoDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}

export function syntheticPerson(docvTransactionId: string, completedAt: Date): SyntheticPerson {
  const h = createHash('sha256').update(docvTransactionId).digest();
  const byte = (i: number) => h[i % h.length]!;
  const dob = new Date(Date.UTC(1950 + (byte(2) % 50), byte(3) % 12, 1 + (byte(4) % 28)));
  const expires = new Date(
    Date.UTC(completedAt.getUTCFullYear() + 1 + (byte(5) % 8), byte(6) % 12, 1 + (byte(7) % 28)),
  );
  // Documents are issued for eight years here, passports and cards alike: near enough.
  const issued = new Date(Date.UTC(expires.getUTCFullYear() - 8, expires.getUTCMonth(), expires.getUTCDate()));
  const place = PLACES[byte(12) % PLACES.length]!;
  return {
    firstName: FIRST_NAMES[byte(0) % FIRST_NAMES.length]!,
    surName: SURNAMES[byte(1) % SURNAMES.length]!,
    dob: isoDate(dob),
    documentNumber: `S${h.readUInt32BE(8).toString().padStart(10, '0').slice(0, 9)}`,
    issueDate: isoDate(issued),
    expirationDate: isoDate(expires),
    street: `${100 + (h.readUInt16BE(13) % 9900)} ${STREETS[byte(15) % STREETS.length]!}`,
    city: place.city,
    state: place.state,
    zip: place.zip,
    spare: byte(9),
  };
}

export interface DocvDecisionBody {
  decision: { value: CanonicalDecision; reasonCodes: string[] };
  documentData: {
    firstName: string;
    surName: string;
    dob: string;
    documentNumber: string;
    expirationDate: string;
    documentType: DocumentType;
    issuingCountry: string;
  };
  selfieMatch: { score: number; decision: string };
  liveness: { decision: string };
}

export function syntheticVerification(
  docvTransactionId: string,
  decision: CanonicalDecision,
  documentType: DocumentType,
  issuingCountry: string,
  completedAt: Date,
): DocvDecisionBody {
  const person = syntheticPerson(docvTransactionId, completedAt);
  const spare = person.spare;
  const selfie =
    decision === 'accept'
      ? { score: 0.9 + (spare % 10) / 100, decision: 'match' }
      : decision === 'reject'
        ? { score: (spare % 30) / 100, decision: 'no_match' }
        : { score: 0.5 + (spare % 20) / 100, decision: 'inconclusive' };
  const liveness = { decision: decision === 'accept' ? 'live' : decision === 'reject' ? 'not_live' : 'inconclusive' };
  return {
    decision: { value: decision, reasonCodes: [...SANDBOX_REASON_CODES[decision]] },
    documentData: {
      firstName: person.firstName,
      surName: person.surName,
      dob: person.dob,
      documentNumber: person.documentNumber,
      expirationDate: person.expirationDate,
      documentType,
      issuingCountry,
    },
    selfieMatch: { score: Number(selfie.score.toFixed(2)), decision: selfie.decision },
    liveness,
  };
}
