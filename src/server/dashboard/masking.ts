/** What a masked value reads as. */
export const MASKED = '••• masked •••';

/**
 * Keys whose values are personal data, compared without case, `_` or `-`. Ingest removes document
 * data unless it is kept on purpose, but senders put personal data elsewhere too (a name in a
 * custom field, an email in a note), and a screen is easily seen over a shoulder: the dashboard
 * masks these wherever they appear. Deliberately by key, not by value: a value that merely looks
 * like a date is left alone, a `dob` is not.
 */
const PERSONAL_KEYS = new Set(
  [
    'firstName',
    'givenName',
    'lastName',
    'surName',
    'surname',
    'familyName',
    'middleName',
    'fullName',
    'dob',
    'dateOfBirth',
    'birthDate',
    'birthday',
    'address',
    'address1',
    'address2',
    'streetAddress',
    'physicalAddress',
    'physicalAddress2',
    'parsedAddress',
    'postalCode',
    'zip',
    'zipCode',
    'documentNumber',
    'documentData',
    'idNumber',
    'licenseNumber',
    'passportNumber',
    'personalNumber',
    'nationalId',
    'email',
    'emailAddress',
    'phone',
    'phoneNumber',
    'mobile',
    'mobileNumber',
    'ssn',
    'socialSecurityNumber',
    'taxId',
    'issueDate',
    'expirationDate',
    'rawData',
    'mrz',
    'barcode',
    'selfie',
    'image',
    'images',
  ].map(normalise),
);

function normalise(key: string): string {
  return key.toLowerCase().replace(/[-_]/g, '');
}

export function isPersonalKey(key: string): boolean {
  return PERSONAL_KEYS.has(normalise(key));
}

/** Deeper than any payload seen; what lies below is masked whole rather than walked. */
const MAX_DEPTH = 64;

/** A copy of `value` with the values of personal keys replaced by MASKED (objects and arrays whole). */
export function maskPersonalData(value: unknown, depth = 0): unknown {
  if (depth > MAX_DEPTH) return MASKED;
  if (Array.isArray(value)) return value.map((v) => maskPersonalData(v, depth + 1));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    // null says "nothing was there", which is no one's personal data and helps reading.
    out[key] = isPersonalKey(key) && child !== null ? MASKED : maskPersonalData(child, depth + 1);
  }
  return out;
}
