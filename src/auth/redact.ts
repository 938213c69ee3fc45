/**
 * Which request headers are kept with a stored event or a quarantined body (and so shown by the
 * admin API and the dashboard): every header but those that may carry a credential.
 *
 * A deny-list by pattern rather than an allow-list of harmless names. The stored headers are
 * there to trace a delivery back to its sender (the request ids, trace headers and proxy headers
 * that Socure, a load balancer or a gateway adds), and Socure documents no header list of its own
 * beyond `Authorization` (../shared/reference: the webhook key) and the Standard Webhooks
 * `webhook-*` trio, so an allow-list would drop exactly the unknown correlation headers an
 * operator looks for. Credentials, on the other hand, travel under names that say so: any name
 * containing auth, token, key, secret, sign, cookie, session, pass, pwd, credential, jwt, hmac,
 * csrf, xsrf or dpop is dropped (X-Auth-Token, Api-Key, X-Session-Id, Cookie, X-Hub-Signature,
 * Proxy-Authorization…). That includes `webhook-signature` / `svix-signature`: an HMAC that is
 * still inside its timestamp window is a replayable credential, and nothing reads it after the
 * check. `webhook-id` and `webhook-timestamp` stay (reprocessing a quarantined body needs the id,
 * and neither proves anything alone), as do content-type, content-encoding, user-agent,
 * x-forwarded-for and the like. Besides, a value that reads as a credential (an auth scheme and
 * a token: `Bearer …`, `Basic …`, `SocureApiKey …`; a `whsec_` secret; a JWT) is dropped whatever
 * the header is called. What remains possible: a secret sent bare under a made-up innocent name.
 */
const CREDENTIAL_NAME = /auth|token|key|secret|sign|cookie|session|pass|pwd|credential|jwt|hmac|csrf|xsrf|dpop/i;

/** A value shaped like `<scheme> <credential>`, a Standard Webhooks secret or a JWT (header.payload…). */
const CREDENTIAL_VALUE =
  /^\s*(?:(?:bearer|basic|digest|negotiate|socureapikey|apikey|token|hmac)\s+\S|whsec_|eyJ[\w-]*\.eyJ)/i;

export type HeaderMap = Record<string, string | string[] | undefined>;

/** Whether a header is left out of what is stored, logged or shown: by its name, and by its value when given. */
export function isCredentialHeader(name: string, value?: string | readonly string[]): boolean {
  if (CREDENTIAL_NAME.test(name)) return true;
  if (value === undefined) return false;
  return (typeof value === 'string' ? [value] : value).some((v) => CREDENTIAL_VALUE.test(v));
}

/** A copy of the request headers safe to persist: credentials removed, names lower-cased. */
export function headersWithoutCredentials(headers: HeaderMap): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || isCredentialHeader(name, value)) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}
