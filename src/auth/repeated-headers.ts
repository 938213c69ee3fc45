import type { HeaderMap } from './headers.js';

/**
 * The headers whose value decides whether a delivery is authentic, or which delivery it is. Each
 * may be sent once. Two copies are refused rather than one picked: Node keeps the first
 * `Authorization` and drops the rest, a proxy may keep the last, and Node and `Headers` join two
 * `webhook-signature` headers into one list. Whoever can add a header must not get to choose which
 * copy is checked.
 */
export const SINGLE_CREDENTIAL_HEADERS = [
  'authorization',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'svix-id',
  'svix-timestamp',
  'svix-signature',
] as const;

type CredentialHeader = (typeof SINGLE_CREDENTIAL_HEADERS)[number];

/** Each name's bit in a mask of the names seen so far. */
const BIT: ReadonlyMap<string, number> = new Map(SINGLE_CREDENTIAL_HEADERS.map((name, index) => [name, 1 << index]));
const LONGEST_NAME = Math.max(...SINGLE_CREDENTIAL_HEADERS.map((name) => name.length));
/**
 * The first letters of the names, lower-cased: every request pays for this scan, and most of its
 * headers (Host, Content-Type, Content-Length, User-Agent…) are passed over on their first letter
 * without the cost of lower-casing them.
 */
const FIRST_LETTERS: ReadonlySet<number> = new Set(SINGLE_CREDENTIAL_HEADERS.map((name) => name.charCodeAt(0)));

/**
 * The headers whose copies, once joined into one value, give themselves away. Node and the Fetch
 * `Headers` join with ", ", and no value we accept has a comma followed by white space: an
 * Authorization we accept is at most a scheme word and one token without white space, a signature
 * list is `v1,<base64>` entries separated by spaces, a timestamp is digits. Ids are left out: any
 * text may be an id, and a joined one cannot pass a signature the sender did not compute over it.
 */
const JOINABLE: ReadonlySet<string> = new Set<CredentialHeader>([
  'authorization',
  'webhook-timestamp',
  'webhook-signature',
  'svix-timestamp',
  'svix-signature',
]);
const JOINED = /,[ \t]/;

/** The name lower-cased when it may be one of ours, else undefined. */
function credentialName(name: string): string | undefined {
  if (name.length > LONGEST_NAME || !FIRST_LETTERS.has(name.charCodeAt(0) | 0x20)) return undefined;
  if (BIT.has(name)) return name;
  const lower = name.toLowerCase();
  return BIT.has(lower) ? lower : undefined;
}

/** The spelling for the log line: HTTP's own header capitalised as usual, the Standard Webhooks ones as their spec writes them. */
function displayName(name: string): string {
  return name === 'authorization' ? 'Authorization' : name;
}

function sentTimes(name: string, count: number): string {
  return `${displayName(name)} sent ${count} times`;
}

/**
 * Says why a request carries a credential header more than once, for the log line of its 401
 * (names and counts only, never a value), or undefined when it does not.
 *
 * `rawHeaders` is the flat `[name, value, name, value, …]` list Node keeps as the headers were
 * sent (`IncomingMessage.rawHeaders`): the only place a dropped copy can still be counted, and an
 * exact count. Without it (a Web `Request`, whose `Headers` joined the copies already), `headers`
 * is read instead: an array of two values is a repeat, and so is a value that can only be two
 * joined into one.
 */
export function repeatedCredentialHeader(headers: HeaderMap, rawHeaders?: readonly string[]): string | undefined {
  return rawHeaders !== undefined ? repeatedInRaw(rawHeaders) : repeatedInMap(headers);
}

function repeatedInRaw(rawHeaders: readonly string[]): string | undefined {
  let seen = 0;
  let repeated: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = credentialName(rawHeaders[i] ?? '');
    if (name === undefined) continue;
    const bit = BIT.get(name) as number;
    if ((seen & bit) !== 0) {
      repeated = name;
      break;
    }
    seen |= bit;
  }
  if (repeated === undefined) return undefined;
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (credentialName(rawHeaders[i] ?? '') === repeated) count += 1;
  return sentTimes(repeated, count);
}

function repeatedInMap(headers: HeaderMap): string | undefined {
  for (const key in headers) {
    const name = credentialName(key);
    if (name === undefined) continue;
    const value = headers[key];
    if (Array.isArray(value)) {
      if (value.length > 1) return sentTimes(name, value.length);
    } else if (value !== undefined && JOINABLE.has(name) && JOINED.test(value)) {
      return `${displayName(name)} holds a comma and a space, as two headers joined into one do; it may be sent once`;
    }
  }
  return undefined;
}
